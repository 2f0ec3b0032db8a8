package main

import (
	"net/netip"
	"regexp"
	"strings"
)

// Indicators are the indicators found in a text, by SOAR contains type,
// each list in order of first appearance without duplicates. Every list is
// present, empty when nothing was found, so a playbook can loop over any.
type Indicators struct {
	IP     []string `json:"ip"`
	IPv6   []string `json:"ipv6"`
	Domain []string `json:"domain"`
	URL    []string `json:"url"`
	Email  []string `json:"email"`
	MD5    []string `json:"md5"`
	SHA1   []string `json:"sha1"`
	SHA256 []string `json:"sha256"`
}

// refanger undoes the usual ways of defanging an indicator. Longer forms
// come first so that "[://]" isn't half-replaced by "[:]".
var refanger = strings.NewReplacer(
	"hxxps", "https", "hXXps", "https", "HXXPS", "HTTPS",
	"hxxp", "http", "hXXp", "http", "HXXP", "HTTP",
	"fxp", "ftp", "FXP", "FTP",
	"[://]", "://", "[:]", ":",
	"[.]", ".", "(.)", ".", "{.}", ".", "[dot]", ".", "(dot)", ".", "{dot}", ".", `\.`, ".",
	"[@]", "@", "[at]", "@", "(at)", "@", "{at}", "@",
)

// Refang returns text with defanged indicators restored.
func Refang(text string) string { return refanger.Replace(text) }

var (
	reURL    = regexp.MustCompile(`(?i)\b(?:https?|ftp)://[^\s<>"'` + "`" + `\]\[(){}]+`)
	reEmail  = regexp.MustCompile(`(?i)\b[a-z0-9._%+-]+@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\b`)
	reIPv4   = regexp.MustCompile(`\b(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\b`)
	reIPv6   = regexp.MustCompile(`(?i)(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}`)
	reHash   = regexp.MustCompile(`(?i)\b[0-9a-f]{32,64}\b`)
	reDomain = regexp.MustCompile(`(?i)\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\b`)
)

// fileExtensions are last labels that make a word a file name, not a
// domain: "report.pdf" is not an indicator.
var fileExtensions = map[string]bool{
	"bat": true, "bin": true, "dll": true, "doc": true, "docx": true, "exe": true, "gif": true,
	"gz": true, "htm": true, "html": true, "jpg": true, "js": true, "json": true, "log": true,
	"md": true, "pdf": true, "php": true, "png": true, "ps1": true, "py": true, "sh": true,
	"tar": true, "tmp": true, "txt": true, "vbs": true, "xls": true, "xlsx": true, "xml": true,
	"yaml": true, "yml": true, "zip": true,
}

// Extract finds indicators in free text, after refanging it. Hashes,
// domains and emails are lowercased; URLs keep their case, without trailing
// punctuation. Domains include the hosts of URLs and emails.
func Extract(text string) Indicators {
	text = Refang(text)
	out := Indicators{
		IP: []string{}, IPv6: []string{}, Domain: []string{}, URL: []string{},
		Email: []string{}, MD5: []string{}, SHA1: []string{}, SHA256: []string{},
	}
	seen := map[string]bool{}
	add := func(list *[]string, kind, v string) {
		if v == "" || seen[kind+v] {
			return
		}
		seen[kind+v] = true
		*list = append(*list, v)
	}
	for _, u := range reURL.FindAllString(text, -1) {
		add(&out.URL, "url", strings.TrimRight(u, ".,;:!?"))
	}
	for _, e := range reEmail.FindAllString(text, -1) {
		add(&out.Email, "email", strings.ToLower(e))
	}
	for _, ip := range reIPv4.FindAllString(text, -1) {
		add(&out.IP, "ip", ip)
	}
	for _, cand := range reIPv6.FindAllString(text, -1) {
		// "::" alone is valid IPv6 but in prose it is punctuation.
		if a, err := netip.ParseAddr(cand); err == nil && a.Is6() && !a.IsUnspecified() {
			add(&out.IPv6, "ipv6", a.String())
		}
	}
	for _, h := range reHash.FindAllString(text, -1) {
		h = strings.ToLower(h)
		switch len(h) {
		case 32:
			add(&out.MD5, "md5", h)
		case 40:
			add(&out.SHA1, "sha1", h)
		case 64:
			add(&out.SHA256, "sha256", h)
		}
	}
	for _, loc := range reDomain.FindAllStringIndex(text, -1) {
		// The local part of an email ("first.last@") is not a domain.
		if loc[1] < len(text) && text[loc[1]] == '@' {
			continue
		}
		d := strings.ToLower(text[loc[0]:loc[1]])
		if fileExtensions[d[strings.LastIndexByte(d, '.')+1:]] {
			continue
		}
		add(&out.Domain, "domain", d)
	}
	return out
}

// Defang makes an indicator safe to paste: no clickable scheme, no
// resolvable name, no mail link. Defanging is idempotent.
func Defang(indicator string) string {
	s := Refang(indicator)
	s = strings.NewReplacer("https://", "hxxps://", "http://", "hxxp://", "ftp://", "fxp://",
		"HTTPS://", "hXXps://", "HTTP://", "hXXp://").Replace(s)
	s = strings.NewReplacer(".", "[.]", "@", "[@]").Replace(s)
	return s
}
