-- report text -> extract -> hunt + look up -> score.

local found = plugins.reputation.extract{text = input.text}

-- Each kind of indicator, with the ThreatConnect hunt that takes it.
local function hunt(kind, value)
  if kind == "ip" or kind == "ipv6" then
    return tc.hunt_ip{ip = value, tag = true}
  elseif kind == "domain" then
    return tc.hunt_domain{domain = value, tag = true}
  elseif kind == "url" then
    return tc.hunt_url{url = value, tag = true}
  elseif kind == "email" then
    return tc.hunt_email{email = value, tag = true}
  else
    return tc.hunt_file{hash = value, tag = true}
  end
end

local results, hunted = {}, 0
for _, kind in ipairs({"ip", "ipv6", "url", "domain", "email", "sha256", "sha1", "md5"}) do
  for _, value in ipairs(found[kind]) do
    if hunted >= input.max_indicators then
      break
    end
    hunted = hunted + 1
    local h = hunt(kind, value)
    local tcind = nil
    if h.status == "success" then
      tcind = h.data[1].data[1]
    end
    local tqind = nil
    local q = tq.indicator_search_with_value{value = value, with = "status"}
    if q.status == "success" then
      tqind = (q.data[1].json_body.data or {})[1]
    end
    local verdict = plugins.reputation.score{indicator = value, tc = tcind, tq = tqind}
    table.insert(results, {
      indicator = plugins.reputation.defang{indicator = value},
      kind = kind,
      verdict = verdict.verdict,
      rating = verdict.rating,
      confidence = verdict.confidence,
      reasons = verdict.reasons,
    })
  end
end

log.info("report triaged", {indicators = hunted})
return {indicators = results, hunted = hunted}
