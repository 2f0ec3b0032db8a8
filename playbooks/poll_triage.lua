-- poll -> triage, once per new ThreatConnect container.
--
-- Severity from the artifact's CEF (ThreatConnect rating and threat-assess
-- rating are 0-5, confidences 0-100):
--   r = max(rating, threatAssessRating), c = max(confidence, threatAssessConfidence)
--   high   when r >= 4 and c >= 50, or ThreatQ scores the indicator >= 8
--   medium when r >= 2.5, or r >= 2 and c >= 70, or ThreatQ scores it >= 5
--   low    otherwise
-- High-severity indicators that ThreatQ doesn't know yet are created there.

local art = container.artifacts[1]
if not art then
  return {container = container.id, skipped = "no artifact"}
end
local cef = art.cef

-- The CEF key of each artifact kind, and the ThreatQ indicator type it maps to.
local kinds = {
  {"deviceCustomIPv6Address1", "IPv6 Address"},
  {"cidr", "CIDR Block"},
  {"deviceAddress", "IP Address"},
  {"emailAddress", "Email Address"},
  {"fileHashSha256", "SHA-256"},
  {"fileHashSha1", "SHA-1"},
  {"fileHashMd5", "MD5"},
  {"deviceDnsDomain", "FQDN"},
  {"requestURL", "URL"},
  {"mutex", "Mutex"},
  {"registryKey", "Registry Key"},
  {"asn", "ASN"},
  {"requestClientApplication", "User-agent"},
  {"cn1", "String"},
}
local value, tqtype
for _, k in ipairs(kinds) do
  if cef[k[1]] ~= nil then
    value, tqtype = tostring(cef[k[1]]), k[2]
    break
  end
end
if not value then
  return {container = container.id, skipped = "no indicator value in the artifact"}
end

local r = math.max(tonumber(cef.rating) or 0, tonumber(cef.threatAssessRating) or 0)
local c = math.max(tonumber(cef.confidence) or 0, tonumber(cef.threatAssessConfidence) or 0)

local tqscore, tqknown = 0, false
local look = tq.indicator_search_with_value{value = value}
if look.status == "success" then
  for _, ind in ipairs(look.data[1].json_body.data or {}) do
    if string.lower(ind.value or "") == string.lower(value) then
      tqknown = true
      tqscore = math.max(tqscore, tonumber(ind.score) or 0)
    end
  end
else
  log.warn("ThreatQ lookup failed", {container = container.id, message = look.message})
end

local severity = "low"
if (r >= 4 and c >= 50) or tqscore >= 8 then
  severity = "high"
elseif r >= 2.5 or (r >= 2 and c >= 70) or tqscore >= 5 then
  severity = "medium"
end

local tags = {"triaged"}
if tqknown then table.insert(tags, "known-to-threatq") end
containers.update(container.id, {
  severity = severity,
  status = "open",
  tags = tags,
  note = string.format("rating %s, confidence %s, ThreatQ score %s", r, c, tqscore),
})

local created = false
if severity == "high" and not tqknown then
  local res = tq.create_indicators{indicators = {{
    value = value,
    type = tqtype,
    status = "Active",
    sources = {{name = "goshawk"}},
  }}}
  if res.status ~= "success" then
    error("creating the ThreatQ indicator failed: " .. res.message)
  end
  created = true
end

return {container = container.id, indicator = value, severity = severity, threatq_known = tqknown, threatq_created = created}
