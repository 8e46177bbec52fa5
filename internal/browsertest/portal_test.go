package browsertest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	alicePW = "Tulip-Orbit-93"
	newPW   = "Maple-Vortex-58"
	thirdPW = "Cobalt-Heron-24"
)

// TestResetFlow: from "Reset User Password" on the login page, through the
// link in the mail the SMTP server received, to an LDAP bind with the new
// password.
func TestResetFlow(t *testing.T) {
	d := start(t)
	dn := d.addUser("alice", "Alice Liddell", alicePW)
	d.secret(newPW)
	x := b{t: t, ctx: browser(t), d: d}

	x.open("/")
	x.see("Log in")
	x.shot("login")
	x.follow("Reset User Password")
	x.see("Reset User Password")
	x.shot("reset-request")
	x.fill("Email", "alice@example.com")
	x.click("Send Reset Request")
	x.see("Check your email")

	link := d.resetLink("alice@example.com")
	token := link[strings.LastIndex(link, "/")+1:]
	if strings.Contains(d.logText(), token) {
		t.Fatal("the reset token is in the log")
	}
	x.do("open the emailed link", chromedp.Navigate(link))
	x.see("Reset Password")
	x.shot("reset")
	x.fill("New Password", newPW, "Confirm New Password", newPW)
	x.click("Reset Password")
	x.see("Password reset")

	if err := d.bind(dn, newPW); err != nil {
		t.Fatalf("LDAP bind with the new password: %v", err)
	}
	if err := d.bind(dn, alicePW); err == nil {
		t.Fatal("LDAP bind with the old password still works")
	}
	l := d.nextLetter()
	if !strings.Contains(l.data, "Subject: Your password was changed") || strings.Contains(l.data, newPW) {
		t.Errorf("after the reset, mail:\n%s", l.data)
	}
	// The link is used up.
	x.do("reopen the link", chromedp.Navigate(link))
	x.see("Link not valid")
}

// TestChangeInSecurity: a change in Security ends the old session (its
// cookie is refused) and the old password stops working over LDAP.
func TestChangeInSecurity(t *testing.T) {
	d := start(t)
	dn := d.addUser("alice", "Alice Liddell", alicePW)
	d.secret(newPW)
	x := b{t: t, ctx: browser(t), d: d}

	x.open("/")
	x.fill("Username", "alice", "Password", alicePW)
	x.click("Log in")
	x.see("Welcome, Alice Liddell")
	x.shot("home")
	// On a phone-sized screen the same page, laid out for it.
	x.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	x.shot("home-phone")
	x.do("desktop viewport", chromedp.EmulateViewport(1024, 800))
	old := x.sessionCookie()
	if old == nil || !old.HTTPOnly || old.SameSite != "Lax" {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax", old)
	}
	x.follow("Security")
	x.see("Security")
	x.shot("security")
	x.fill("Current Password", alicePW, "New Password", newPW, "Confirm New Password", newPW)
	x.click("Update Password")
	x.seeText("Your password was changed")
	if now := x.sessionCookie(); now == nil || now.Value == old.Value {
		t.Error("the session was not re-issued after the change")
	}

	// The old cookie, replayed by another client, gets the login page.
	req, _ := http.NewRequest("GET", d.portalURL+"/", nil)
	req.AddCookie(&http.Cookie{Name: old.Name, Value: old.Value})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "Welcome") || !strings.Contains(string(body), `<label for="username">Username</label>`) {
		t.Fatalf("the old session cookie still works:\n%s", body)
	}
	if err := d.bind(dn, alicePW); err == nil {
		t.Fatal("the old password still works over LDAP")
	}
	if err := d.bind(dn, newPW); err != nil {
		t.Fatalf("the new password over LDAP: %v", err)
	}
	// The page still works for the browser that made the change.
	x.open("/")
	x.see("Welcome, Alice Liddell")
	x.do("log out", chromedp.Click(button("Log out")))
	x.see("Log in")
}

// TestAccountStates: the expiry warning on login, the expired page, and
// the must-change page after an administrator set the password.
func TestAccountStates(t *testing.T) {
	d := start(t, "max_age: 90d")
	alice := d.addUser("alice", "Alice Liddell", alicePW)
	bob := d.addUser("bob", "Bob Marley", newPW)
	carol := d.addUser("carol", "Carol Danvers", thirdPW)
	now := time.Now()
	d.setChanged(alice, now.Add(-85*24*time.Hour))
	d.setChanged(bob, now.Add(-91*24*time.Hour))

	x := b{t: t, ctx: browser(t), d: d}
	x.open("/")
	x.fill("Username", "alice", "Password", alicePW)
	x.click("Log in")
	x.seeText("Your password expires in 4 days")
	x.do("the warning links to Security", chromedp.WaitVisible(link("Change your password in Security")))
	x.shot("home-expiry-warning")
	x.do("log out", chromedp.Click(button("Log out")))
	x.see("Log in")

	x.fill("Username", "bob", "Password", newPW)
	x.click("Log in")
	x.see("Password expired")
	x.seeText("Contact your administrator")
	x.shot("expired")

	const temp = "Temp-Granite-4410"
	d.secret(temp)
	d.admin(func(c *ldapConn) error { return setPassword(c, carol, temp) })
	x.open("/")
	x.fill("Username", "carol", "Password", temp)
	x.click("Log in")
	x.seeText("You must change your password.")
	x.shot("must-change")
	x.fill("Current Password", temp, "New Password", "Quiet-Harbor-Lamp-42", "Confirm New Password", "Quiet-Harbor-Lamp-42")
	d.secret("Quiet-Harbor-Lamp-42")
	x.click("Update Password")
	x.see("Welcome, Carol Danvers")
}

// TestMFAThenReset: enrol an authenticator app in Security, then reset the
// password with the emailed link and a TOTP code.
func TestMFAThenReset(t *testing.T) {
	d := start(t)
	dn := d.addUser("alice", "Alice Liddell", alicePW)
	d.secret(newPW)
	x := b{t: t, ctx: browser(t), d: d}

	x.open("/")
	x.fill("Username", "alice", "Password", alicePW)
	x.click("Log in")
	x.see("Welcome, Alice Liddell")
	x.follow("Security")
	x.fill("Password (to confirm it is you)", alicePW)
	x.click("Set up authenticator app")
	x.see("Set up an authenticator app")
	x.do("the QR code is drawn", chromedp.WaitVisible(chromedp.CSS(`img.qr[src^="data:image/png;base64,"]`)))
	x.shot("mfa-enroll")
	secret := x.textOf("code.secret")
	x.fill("Authentication code", totp(secret, time.Now()))
	x.click("Confirm")
	x.see("Recovery codes")
	x.shot("mfa-recovery-codes")
	codes := x.textOf("ul.codes")
	if n := len(strings.Fields(codes)); n != 10 {
		t.Fatalf("%d recovery codes shown: %q", n, codes)
	}
	x.follow("I have saved my recovery codes")
	x.seeText("Your authenticator app is set up")
	x.do("log out", chromedp.Click(button("Log out")))

	x.see("Log in")
	x.follow("Reset User Password")
	x.fill("Email", "alice@example.com")
	x.click("Send Reset Request")
	x.see("Check your email")
	link := d.resetLink("alice@example.com")
	x.do("open the emailed link", chromedp.Navigate(link))
	x.fill("New Password", newPW, "Confirm New Password", newPW)
	x.click("Reset Password")
	x.see("Authentication code")
	x.shot("reset-mfa")
	if err := d.bind(dn, newPW); err == nil {
		t.Fatal("the password changed before the code was given")
	}
	// The enrolment used the current step; the next one is within the
	// accepted window and has not been used.
	x.fill("Authentication code", totp(secret, time.Now().Add(30*time.Second)))
	x.click("Reset Password")
	x.see("Password reset")
	if err := d.bind(dn, newPW); err != nil {
		t.Fatalf("LDAP bind with the new password: %v", err)
	}
}
