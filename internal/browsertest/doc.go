// Package browsertest drives the portal in Debian's headless Chromium
// (/usr/bin/chromium, through chromedp) against a real `dird serve`, with a
// real SMTP server on loopback (emersion/go-smtp) receiving the mail and
// go-ldap checking the result over LDAP: reset from "Reset User Password"
// through the emailed link to an LDAP bind, change in Security ending the
// old session and the old password, the expiry warning, MFA enrolment and
// a reset with a code. With DIRD_SCREENSHOTS=1 it saves a screenshot of
// each main page to docs/screenshots/.
//
// It has only tests and imports only internal/dirdproc of dird's own, so it
// sees what a person with a browser sees. A missing Chromium fails the
// tests (make test-deps installs it); they are never skipped.
package browsertest
