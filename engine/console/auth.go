package console

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// cookieName holds the API token in a browser that logged in.
const cookieName = "goshawk_token"

// authorized applies the API's read-route rule: open unless reads are
// protected, then the token as a bearer token or as the login cookie.
func (c *console) authorized(r *http.Request) bool {
	if !c.o.Protect || c.o.Token == "" {
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		ck, err := r.Cookie(cookieName)
		if err != nil {
			return false
		}
		tok = ck.Value
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(c.o.Token)) == 1
}

type loginPage struct {
	Next    string
	Problem string
}

func (loginPage) Nav() string { return "" }

func (c *console) loginForm(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, func(r *http.Request) (string, any, error) {
		return "login", loginPage{Next: safeNext(r.URL.Query().Get("next"))}, nil
	})
}

// login checks the token of the form and keeps it in an HttpOnly cookie
// that only same-site requests carry.
func (c *console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form is too large or malformed", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	if c.o.Token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(c.o.Token)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		c.render(&statusKeeper{ResponseWriter: w}, r, func(*http.Request) (string, any, error) {
			return "login", loginPage{Next: next, Problem: "That is not the API token: it is api_token in goshawk.yaml."}, nil
		})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext keeps a redirect target on this site.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return "/"
	}
	return s
}

// statusKeeper drops the second WriteHeader of render after login has set
// the status.
type statusKeeper struct{ http.ResponseWriter }

func (s *statusKeeper) WriteHeader(int) {}
