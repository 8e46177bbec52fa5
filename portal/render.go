package portal

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/dird/dird/policy"
)

// view is what every page template receives; each page uses some fields.
type view struct {
	Title string
	// User is set on logged-in pages (they show Security and Log out).
	User *policy.AccountStatus
	// Now is the time the page was made (for ages and expiry).
	Now time.Time

	Error    string
	MFAError string
	Problems []string // password rules broken
	Message  string
	Notice   string

	Username string
	Rules    []string
	Token    string
	QR       template.URL
	Secret   string
	Codes    []string
	Sessions []policy.SessionInfo
	Warning  string // the expiry warning text, when due
	Locked   bool   // a red card: the account cannot be used
	NoReset  bool   // do not offer a reset (it cannot help)
	Expired  bool   // a grace login: the password has expired
}

var pageNames = []string{
	"login", "login-code", "home", "security", "mfa-enroll", "mfa-codes",
	"reset-request", "reset-sent", "reset", "reset-code", "message",
}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"date": func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format("2 January 2006, 15:04 UTC")
		},
		"age":  passwordAge,
		"left": timeLeft,
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("portal: parsing template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a page; a template failure becomes a plain 500 (the page
// is rendered into a buffer first, so no half page is sent).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	if v.Now.IsZero() {
		v.Now = s.now()
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("rendering a portal page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// passwordAge says how long ago t was, in days (or "today").
func passwordAge(now, t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	days := int(now.Sub(t).Hours() / 24)
	switch {
	case days <= 0:
		return "set today"
	case days == 1:
		return "1 day old"
	}
	return fmt.Sprintf("%d days old", days)
}

// timeLeft says how long until t: whole days when a day or more is left,
// hours below that, as the expiry warning reads.
func timeLeft(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "no time"
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= 24*time.Hour:
		return "1 day"
	case d > time.Hour:
		return fmt.Sprintf("%d hours", int((d+time.Hour-1)/time.Hour))
	}
	return "less than an hour"
}

// ruleList describes the rules in force, for the password forms.
func ruleList(p policy.PolicySummary) []string {
	r := p.Rules
	max := r.MaxLength
	if max <= 0 || max > policy.MaxPasswordBytes {
		max = policy.MaxPasswordBytes
	}
	out := []string{fmt.Sprintf("At least %d characters and at most %d bytes.", r.MinLength, max)}
	if r.RequireUpper {
		out = append(out, "An upper-case letter.")
	}
	if r.RequireLower {
		out = append(out, "A lower-case letter.")
	}
	if r.RequireDigit {
		out = append(out, "A digit.")
	}
	if r.RequireSymbol {
		out = append(out, "A symbol or punctuation character.")
	}
	out = append(out, "Not your user name, name or e-mail address.")
	if r.RejectCommon {
		out = append(out, "Not a common or breached password, nor a repeated or sequential run of characters.")
	}
	if len(r.Blocklist) > 0 {
		out = append(out, "Not on this site's list of forbidden passwords.")
	}
	if p.History > 0 {
		out = append(out, fmt.Sprintf("Not one of your last %d passwords.", p.History))
	}
	if p.MaxAge > 0 {
		out = append(out, fmt.Sprintf("Passwords expire after %s; change yours before then.", days(p.MaxAge)))
	}
	return out
}

func days(d time.Duration) string {
	n := int(d / (24 * time.Hour))
	if n == 1 {
		return "1 day"
	}
	if n >= 1 {
		return fmt.Sprintf("%d days", n)
	}
	return d.String()
}
