package providers

import (
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// The SOAR contains types a parameter value can be checked against.
var containsCheckers = map[string]func(string) bool{
	"ip":     IsIP,
	"ipv6":   IsIPv6,
	"md5":    IsMD5,
	"sha1":   IsSHA1,
	"sha256": IsSHA256,
	"hash":   IsHash,
	"email":  IsEmail,
	"domain": IsDomain,
	"url":    IsURL,
}

// ContainsTypes returns the known contains type names, sorted.
func ContainsTypes() []string {
	return []string{"domain", "email", "hash", "ip", "ipv6", "md5", "sha1", "sha256", "url"}
}

// KnownContains reports whether kind is a contains type goshawk checks.
func KnownContains(kind string) bool { _, ok := containsCheckers[kind]; return ok }

// Matches reports whether value is of the contains type kind. An unknown
// kind matches nothing.
func Matches(kind, value string) bool {
	f, ok := containsCheckers[kind]
	return ok && f(value)
}

// MatchesAny reports whether value is of at least one of kinds.
func MatchesAny(kinds []string, value string) bool {
	for _, k := range kinds {
		if Matches(k, value) {
			return true
		}
	}
	return false
}

// IsIP reports whether s is an IPv4 or IPv6 literal without a zone, as SOAR's
// "ip" type accepts both.
func IsIP(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// IsIPv6 reports whether s is an IPv6 literal without a zone.
func IsIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == "" && a.Is6() && !a.Is4In6()
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// IsMD5 reports whether s is 32 hex digits.
func IsMD5(s string) bool { return isHex(s, 32) }

// IsSHA1 reports whether s is 40 hex digits.
func IsSHA1(s string) bool { return isHex(s, 40) }

// IsSHA256 reports whether s is 64 hex digits.
func IsSHA256(s string) bool { return isHex(s, 64) }

// IsHash reports whether s is an MD5, SHA-1 or SHA-256 hex digest.
func IsHash(s string) bool { return IsMD5(s) || IsSHA1(s) || IsSHA256(s) }

var emailRE = regexp.MustCompile(`^\S+@\S+\.\S+$`)

// IsEmail reports whether s looks like an email address, as SOAR's validator
// does: non-space@non-space.non-space, at most 255 bytes.
func IsEmail(s string) bool { return len(s) <= 255 && emailRE.MatchString(s) }

var schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// IsURL reports whether s has a scheme and a host.
func IsURL(s string) bool {
	if !schemeRE.MatchString(s) || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && u.Hostname() != ""
}

// IsDomain reports whether s is a host name: it has a dot, no '@', '/' or
// white space, at most 255 bytes, and labels of letters, digits, '-' and '_'.
func IsDomain(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) == 0 || len(s) > 255 || !strings.Contains(s, ".") {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
