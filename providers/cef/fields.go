package cef

// CEF keys goshawk writes. The names are the standard CEF dictionary keys
// where one exists (deviceAddress, requestURL, ...) and SOAR's customary
// extensions otherwise (fileHashSha256, registryKey, ...).
const (
	DeviceAddress            = "deviceAddress"
	DeviceCustomIPv6Address1 = "deviceCustomIPv6Address1"
	EmailAddress             = "emailAddress"
	FileHash                 = "fileHash"
	FileHashMd5              = "fileHashMd5"
	FileHashSha1             = "fileHashSha1"
	FileHashSha256           = "fileHashSha256"
	DeviceDNSDomain          = "deviceDnsDomain"
	RequestURL               = "requestURL"
	CIDR                     = "cidr"
	CIDRPrefix               = "cidrPrefix"
	Mutex                    = "mutex"
	RegistryKey              = "registryKey"
	RegistryValue            = "registryValue"
	RegistryType             = "registryType"
	ASN                      = "asn"
	RequestClientApplication = "requestClientApplication"
	CustomString1            = "cn1"
	CustomString1Label       = "cn1Label"
	DeviceCustomDate1        = "deviceCustomDate1"
	DeviceCustomDate1Label   = "deviceCustomDate1Label"
	DeviceCustomDate2        = "deviceCustomDate2"
	DeviceCustomDate2Label   = "deviceCustomDate2Label"
	Rating                   = "rating"
	Confidence               = "confidence"
	ThreatAssessRating       = "threatAssessRating"
	ThreatAssessConfidence   = "threatAssessConfidence"
)

// SOAR contains types carried in cef_types. They are the same names that
// action parameters declare, so an artifact value can be passed straight to
// an action that accepts its type.
const (
	ContainsIP     = "ip"
	ContainsIPv6   = "ipv6"
	ContainsEmail  = "email"
	ContainsMD5    = "md5"
	ContainsSHA1   = "sha1"
	ContainsSHA256 = "sha256"
	ContainsHash   = "hash"
	ContainsDomain = "domain"
	ContainsURL    = "url"
	// ContainsCIDR is spelled in capitals as in the ThreatConnect on-poll
	// table, where it first appeared; SOAR matches contains types exactly.
	ContainsCIDR = "CIDR"
)

// Field describes one CEF key: what it holds and the contains types its value
// may have. A field whose type depends on the value (fileHash, deviceAddress
// of a CIDR) lists every type it can take; the artifact's cef_types says
// which one applies.
type Field struct {
	Name     string
	Doc      string
	Contains []string
}

var fields = []Field{
	{DeviceAddress, "IPv4 address, or the network address of a CIDR block", []string{ContainsIP, ContainsIPv6}},
	{DeviceCustomIPv6Address1, "IPv6 address", []string{ContainsIPv6}},
	{EmailAddress, "email address", []string{ContainsEmail}},
	{FileHash, "the first of the MD5, SHA-1 and SHA-256 hashes present", []string{ContainsMD5, ContainsSHA1, ContainsSHA256}},
	{FileHashMd5, "MD5 hash of a file", []string{ContainsMD5}},
	{FileHashSha1, "SHA-1 hash of a file", []string{ContainsSHA1}},
	{FileHashSha256, "SHA-256 hash of a file", []string{ContainsSHA256}},
	{DeviceDNSDomain, "host or domain name", []string{ContainsDomain}},
	{RequestURL, "URL", []string{ContainsURL}},
	{CIDR, "CIDR block as written, e.g. 10.0.0.0/8", []string{ContainsCIDR}},
	{CIDRPrefix, "prefix length of a CIDR block, as a string", nil},
	{Mutex, "mutex name", nil},
	{RegistryKey, "registry key name", nil},
	{RegistryValue, "registry value name", nil},
	{RegistryType, "registry value type", nil},
	{ASN, "autonomous system number", nil},
	{RequestClientApplication, "HTTP user agent", nil},
	{CustomString1, "value of an indicator of a type without a dedicated field", nil},
	{CustomString1Label, "the indicator type that cn1 holds", nil},
	{DeviceCustomDate1, "date the indicator was created, UTC", nil},
	{DeviceCustomDate1Label, `label of deviceCustomDate1: "Date Created"`, nil},
	{DeviceCustomDate2, "date the indicator was last modified, UTC", nil},
	{DeviceCustomDate2Label, `label of deviceCustomDate2: "Last Modified"`, nil},
	{Rating, "vendor rating, a number", nil},
	{Confidence, "vendor confidence, a number", nil},
	{ThreatAssessRating, "vendor threat assessment rating, a number", nil},
	{ThreatAssessConfidence, "vendor threat assessment confidence, a number", nil},
}

// Fields returns the catalogue of CEF keys goshawk writes, in a stable order.
// The slice is a copy; changing it changes nothing here.
func Fields() []Field {
	out := make([]Field, len(fields))
	for i, f := range fields {
		f.Contains = append([]string(nil), f.Contains...)
		out[i] = f
	}
	return out
}

// LookupField returns the catalogue entry for a CEF key.
func LookupField(name string) (Field, bool) {
	for _, f := range fields {
		if f.Name == name {
			f.Contains = append([]string(nil), f.Contains...)
			return f, true
		}
	}
	return Field{}, false
}
