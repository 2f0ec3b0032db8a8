package tcfake

import (
	"net/netip"
	"strings"
	"time"
)

// The seeded owners. Both ids exceed 2^53, so a client that decodes ids as
// float64 corrupts them.
const (
	SeedOwnerID          = 11111797252348111
	SeedOwnerName        = "TestUser"
	SeedPartnerOwnerID   = 11111797252348223
	SeedPartnerOwnerName = "Partner Community"
)

// Notable seeded indicator values. Every indicator type of the on_poll CEF
// mapping has one, all in SeedOwnerName and active unless said otherwise. Their
// dateAdded lie within the three days before the server clock at start, so
// a 7-day poll finds them all.
const (
	// SeedIPv4 is an Address with tags, attributes, a security label and
	// threat-assess values; its id is SeedBigID.
	SeedIPv4 = "123.23.124.32"
	// SeedBigID is an indicator id above 2^53 that float64 cannot hold.
	SeedBigID = 11111797252348113
	SeedIPv6  = "2001:db8:85a3::8a2e:370:7334"
	SeedEmail = "abcxyz@test.com"
	// SeedMD5 is a File known only by its MD5.
	SeedMD5 = "AAAAF2DB1295FA419B190BD7478DAAAA"
	// SeedFileMD5, SeedFileSHA1 and SeedFileSHA256 are one File with all
	// three hashes; its summary is SeedFileSummary.
	SeedFileMD5     = "AAA0985A485969F70C0B414EF328DAAA"
	SeedFileSHA1    = "AAA1C4D2E3F405162738495A6B7C8D9EAF0B1AAA"
	SeedFileSHA256  = "AAAA30BA2F79F45ED475BA35205D6332ABF201830A4979355C53C66F3220AAAA"
	SeedFileSummary = SeedFileMD5 + " : " + SeedFileSHA1 + " : " + SeedFileSHA256
	SeedHost        = "vclub.credit"
	SeedURL         = "http://www.test.com/list/oz/"
	SeedCIDRv4      = "10.0.0.0/8"
	SeedCIDRv6      = "2001:db8::/32"
	SeedMutex       = `Global\ZeusUpdateMutex`
	// SeedRegistryKey has a value name; SeedRegistryKeyNoValue has an empty
	// one, which leaves two spaces between its separators.
	SeedRegistryKey        = `HKEY_LOCAL_MACHINE\Software\Microsoft\Windows\CurrentVersion\Run : Updater : REG_SZ`
	SeedRegistryKeyNoValue = `HKEY_CURRENT_USER\Software\Classes\mscfile\shell\open\command :  : REG_EXPAND_SZ`
	SeedASN                = "ASN204288"
	SeedUserAgent          = "Mozilla/5.0 (compatible; EvilBot/2.1; +http://evil.example/bot)"
	// SeedEmailSubject is of the custom type "Email Subject", which has no
	// row of its own in the CEF table.
	SeedEmailSubject = "Urgent: invoice #4471 is overdue"
	// SeedInactiveIP is an Address with active=false: searches skip it.
	SeedInactiveIP = "198.51.100.7"
	// SeedPartnerIP is an Address owned by SeedPartnerOwnerName.
	SeedPartnerIP = "203.0.113.9"
	// SeedUnicodeTag is the seed's non-ASCII tag name, carried by SeedEmail.
	SeedUnicodeTag = "漢©ᇗḈ✔❤╬⎋ᾧ҈₯⅏⌛ï دગુж!@#$%^&*"
)

// The burst: SeedBurstCount Address indicators 192.0.2.1 upwards sharing one
// dateAdded second, SeedBurstAge before the server clock at start (whole
// seconds). More than one page and more than the default max_containers.
const (
	SeedBurstCount = 120
	SeedBurstAge   = 36 * time.Hour
)

// owner is one entry of GET security/owners.
type owner struct {
	ID          int64
	Name        string
	Type        string
	Role        string
	defaultPerm string
	perms       map[string]string
}

func (o owner) perm(name string) string {
	if v, ok := o.perms[name]; ok {
		return v
	}
	return o.defaultPerm
}

// permNames are the perm* fields of an owner, as the seed lists them.
var permNames = []string{
	"permTag", "permApps", "permPost", "permTask", "permGroup", "permTrack", "permUsers", "permInvite",
	"permVictim", "permCaseTag", "permComment", "permMembers", "permPublish", "permArtifact",
	"permCopyData", "permSettings", "permTimeline", "permAttribute", "permIndicator", "permPlaybooks",
	"permAttributeType", "permSecurityLabel", "permPlaybooksExecute", "permWorkflowTemplate",
}

var seedOwners = []owner{
	{ID: SeedOwnerID, Name: SeedOwnerName, Type: "Organization", Role: "Organization Administrator",
		defaultPerm: "FULL", perms: map[string]string{"permApps": "BUILD", "permMembers": "READ"}},
	{ID: SeedPartnerOwnerID, Name: SeedPartnerOwnerName, Type: "Community", Role: "Subscriber",
		defaultPerm: "READ", perms: map[string]string{"permComment": "FULL"}},
}

func ownerByName(name string) (owner, bool) {
	for _, o := range seedOwners {
		if strings.EqualFold(o.Name, name) {
			return o, true
		}
	}
	return owner{}, false
}

func ownerNames() string {
	names := make([]string, len(seedOwners))
	for i, o := range seedOwners {
		names[i] = "'" + o.Name + "'"
	}
	return strings.Join(names, ", ")
}

// seedUser is the attribute author the seed shows.
var seedUser = User{ID: 11111797252348111, Owner: SeedOwnerName, UserName: "11111797252345448111", FirstName: "test", LastName: "lab", Pseudonym: "APIUserYSRPA"}

// seedIndicators builds the seeded dataset relative to now (whole seconds).
func seedIndicators(now time.Time) []Indicator {
	f := func(v float64) *float64 { return &v }
	n := func(v int) *int { return &v }
	b := func(v bool) *bool { return &v }
	amber := SecurityLabel{Name: "TLP:AMBER"}
	rows := []Indicator{
		{ID: SeedBigID, Type: "Address", IP: SeedIPv4, Rating: f(3), Confidence: n(23), Description: "This is testing data",
			Tags:               []Tag{{Name: "testing"}},
			Attributes:         []Attribute{{Type: "Description", Value: "This is testing data", Default: true, CreatedBy: seedUser}},
			SecurityLabels:     []SecurityLabel{amber},
			ThreatAssessRating: f(3.5), ThreatAssessConfidence: f(62.5), ThreatAssessScore: f(412), CalScore: n(350)},
		{Type: "Address", IP: SeedIPv6, Rating: f(2), Confidence: n(40), Tags: []Tag{{Name: "ipv6"}},
			ThreatAssessRating: f(2), ThreatAssessConfidence: f(40), ThreatAssessScore: f(210), CalScore: n(180)},
		{Type: "EmailAddress", Address: SeedEmail, Confidence: n(70), Description: "only_value_provided",
			Tags:           []Tag{{Name: "testing"}, {Name: SeedUnicodeTag}},
			Attributes:     []Attribute{{Type: "Description", Value: "only_value_provided", Default: true, CreatedBy: seedUser}},
			SecurityLabels: []SecurityLabel{amber}},
		{Type: "File", MD5: SeedMD5, Rating: f(5), Confidence: n(50),
			ThreatAssessRating: f(5), ThreatAssessConfidence: f(50), ThreatAssessScore: f(800), CalScore: n(900)},
		{Type: "File", MD5: SeedFileMD5, SHA1: SeedFileSHA1, SHA256: SeedFileSHA256, Size: new(int64(10)), Rating: f(4), Confidence: n(85),
			Tags: []Tag{{Name: "malware"}}, Attributes: []Attribute{{Type: "Source", Value: "sandbox run 4471", CreatedBy: seedUser}}},
		{Type: "Host", HostName: SeedHost, DNSActive: b(true), WhoisActive: b(false), Rating: f(1), Confidence: n(10),
			SecurityLabels: []SecurityLabel{{Name: "TLP:GREEN"}}},
		{Type: "URL", Text: SeedURL, Rating: f(2.5), Confidence: n(30)},
		{Type: "CIDR", Custom: map[string]string{"Block": SeedCIDRv4}, Rating: f(1)},
		{Type: "CIDR", Custom: map[string]string{"Block": SeedCIDRv6}},
		{Type: "Mutex", Custom: map[string]string{"Mutex": SeedMutex}, Rating: f(4), Confidence: n(75)},
		{Type: "Registry Key", Summary: SeedRegistryKey, Rating: f(3)},
		{Type: "Registry Key", Summary: SeedRegistryKeyNoValue},
		{Type: "ASN", Custom: map[string]string{"AS Number": SeedASN}, Confidence: n(5)},
		{Type: "User Agent", Custom: map[string]string{"User Agent String": SeedUserAgent}, Rating: f(2)},
		{Type: "Email Subject", Custom: map[string]string{"Subject": SeedEmailSubject}, Rating: f(0), Confidence: n(0)},
		{Type: "Address", IP: SeedInactiveIP, Rating: f(1), Active: false},
		{Type: "Address", IP: SeedPartnerIP, OwnerID: SeedPartnerOwnerID, OwnerName: SeedPartnerOwnerName, Rating: f(3), Confidence: n(60)},
	}
	start := now.Add(-71 * time.Hour)
	for i := range rows {
		r := &rows[i]
		if r.ID == 0 {
			r.ID = 1111799822086111 + int64(i)*1000
		}
		r.Active = r.IP != SeedInactiveIP
		r.DateAdded = start.Add(time.Duration(i) * 3 * time.Hour)
		r.LastModified = r.DateAdded.Add(30 * time.Minute)
	}
	burst := GenerateIndicators(SeedBurstCount, SeedBurstCount, now.Add(-SeedBurstAge))
	for i := range burst {
		burst[i].ID = 1111899916230001 + int64(i)
		burst[i].IP = netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}).String()
		burst[i].Summary = burst[i].IP
	}
	return append(rows, burst...)
}

// GenerateIndicators makes n active Address indicators with distinct IPs
// (100.64.0.0 upwards, distinct for n up to 4,194,304) in SeedOwnerName.
// The first sameSecond of them share dateAdded start (whole seconds); the
// rest follow one per minute after it. Ids are left zero, so AddIndicator
// assigns growing ids in slice order.
func GenerateIndicators(n, sameSecond int, start time.Time) []Indicator {
	n = max(n, 0)
	sameSecond = min(max(sameSecond, 0), n)
	start = start.UTC().Truncate(time.Second)
	out := make([]Indicator, n)
	for i := range out {
		added := start
		if i >= sameSecond {
			added = start.Add(time.Duration(i-sameSecond+1) * time.Minute)
		}
		ip := netip.AddrFrom4([4]byte{100, 64 | byte(i>>16&0x3f), byte(i >> 8), byte(i)}).String()
		rating := float64(i % 6)
		confidence := i * 7 % 101
		out[i] = Indicator{
			OwnerID: SeedOwnerID, OwnerName: SeedOwnerName,
			Type: "Address", IP: ip, Summary: ip,
			Rating: &rating, Confidence: &confidence,
			DateAdded: added, LastModified: added, Active: true,
			Tags: []Tag{{Name: "generated"}},
		}
	}
	return out
}
