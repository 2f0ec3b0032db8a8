package threatconnect

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// Sign returns the Authorization header value ThreatConnect expects for one
// request: "TC <accessID>:<signature>", where the signature is the padded
// standard base64 of HMAC-SHA256, keyed with secretKey, over
// "<requestTarget>:<METHOD>:<timestamp>".
//
// requestTarget is the escaped path and raw query exactly as they go on the
// wire ("/v3/indicators?tql=..."). The server recomputes the signature over
// the request line it received, so the target must be encoded once and this
// very string used both to sign and to send. The body is not signed, and the
// same timestamp must be sent in the Timestamp header.
func Sign(accessID, secretKey, requestTarget, method string, timestamp int64) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(requestTarget + ":" + method + ":" + strconv.FormatInt(timestamp, 10)))
	return "TC " + accessID + ":" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
