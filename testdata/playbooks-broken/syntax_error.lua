local r = tc.test_connectivity()
if r.status == "success" then
  return r
else
  return nil
