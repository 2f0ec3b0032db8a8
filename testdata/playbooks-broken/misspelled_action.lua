-- Hunt the IP, then return what was found.
local r = tc.hunt_ipp{ip = input.ip}
return r
