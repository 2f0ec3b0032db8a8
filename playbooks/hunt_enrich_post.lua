-- hunt -> enrich -> post.
--
-- The verdict combines ThreatConnect's rating (0-5) and confidence (0-100)
-- with ThreatQ's score (0-10) and status:
--   score10    = max(2 * TC rating, TQ score)
--   malicious  when score10 >= 8, or a TQ "Active" indicator scores >= 6
--   suspicious when score10 >= 4
--   benign     when either platform knows it and nothing above holds
--   unknown    when neither platform knows it
-- The rating posted back is score10 / 2; the confidence is the highest
-- confidence either side reports (TQ score * 10 stands in for TQ's).

local value, kind, hunt
if input.ip then
  value, kind = input.ip, "ip"
  hunt = tc.hunt_ip{ip = value, tag = true, attribute = true}
elseif input.hash then
  value, kind = input.hash, "hash"
  hunt = tc.hunt_file{hash = value, tag = true, attribute = true}
elseif input.domain then
  value, kind = input.domain, "domain"
  hunt = tc.hunt_domain{domain = value, tag = true, attribute = true}
elseif input.url then
  value, kind = input.url, "url"
  hunt = tc.hunt_url{url = value, tag = true, attribute = true}
elseif input.email then
  value, kind = input.email, "email"
  hunt = tc.hunt_email{email = value, tag = true, attribute = true}
else
  error("give one input: ip, hash, domain, url or email")
end
if hunt.status ~= "success" then
  error("ThreatConnect hunt failed: " .. hunt.message)
end

-- What ThreatConnect knows.
local tcinfo = {found = 0, rating = 0, confidence = 0, tags = {}}
for _, ind in ipairs(hunt.data[1].data) do
  tcinfo.found = tcinfo.found + 1
  tcinfo.rating = math.max(tcinfo.rating, tonumber(ind.rating) or 0)
  tcinfo.confidence = math.max(tcinfo.confidence, tonumber(ind.confidence) or 0)
  if ind.tags then
    for _, t in ipairs(ind.tags.data or {}) do
      table.insert(tcinfo.tags, t.name)
    end
  end
end

-- What ThreatQ knows.
local tqinfo = {found = 0, score = 0, status = nil}
local enrich = tq.indicator_search_with_value{value = value, with = "status,type"}
if enrich.status == "success" then
  local body = enrich.data[1].json_body or {}
  for _, ind in ipairs(body.data or {}) do
    if string.lower(ind.value or "") == string.lower(value) then
      tqinfo.found = tqinfo.found + 1
      tqinfo.score = math.max(tqinfo.score, tonumber(ind.score) or 0)
      if ind.status and ind.status.name then
        tqinfo.status = ind.status.name
      end
    end
  end
else
  log.warn("ThreatQ enrichment failed; judging on ThreatConnect alone", {message = enrich.message})
end

local score10 = math.max(2 * tcinfo.rating, tqinfo.score)
local verdict
if score10 >= 8 or (tqinfo.status == "Active" and tqinfo.score >= 6) then
  verdict = "malicious"
elseif score10 >= 4 then
  verdict = "suspicious"
elseif tcinfo.found > 0 or tqinfo.found > 0 then
  verdict = "benign"
else
  verdict = "unknown"
end
local rating = math.floor(score10 / 2 + 0.5)
if rating > 5 then rating = 5 end
local confidence = math.max(tcinfo.confidence, tqinfo.score * 10)
if confidence > 100 then confidence = 100 end

local description = string.format(
  "goshawk verdict %s: ThreatConnect rating %s (confidence %s, %d match(es)); ThreatQ score %s (%s, %d match(es))",
  verdict, tcinfo.rating, tcinfo.confidence, tcinfo.found, tqinfo.score, tqinfo.status or "no status", tqinfo.found)

local post = tc.post_data{
  primary_field = value,
  rating = rating,
  confidence = confidence,
  tag = "goshawk:" .. verdict,
  attribute_name = "Description",
  attribute_value = description,
}
if post.status ~= "success" then
  error("posting the verdict to ThreatConnect failed: " .. post.message)
end
local posted = post.data[1].data

local event_id = nil
if verdict == "malicious" then
  local ev = tq.create_event{
    title = "goshawk: malicious " .. kind .. " " .. value,
    type = "Incident",
    happened_at = time.format(time.now(), "datetime"),  -- ThreatQ wants YYYY-MM-DD HH:MM:SS, UTC
    sources = {{name = "goshawk"}},
  }
  if ev.status ~= "success" then
    error("creating the ThreatQ event failed: " .. ev.message)
  end
  event_id = ev.data[1].json_body.data.id
end

log.info("verdict", {indicator = value, verdict = verdict, rating = rating, confidence = confidence})
return {
  indicator = value,
  kind = kind,
  verdict = verdict,
  rating = rating,
  confidence = confidence,
  threatconnect = tcinfo,
  threatq = tqinfo,
  posted_id = posted and posted.id,
  event_id = event_id,
}
