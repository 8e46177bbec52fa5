// Package mail sends the messages people receive from dird: reset links,
// "your password was changed" and expiry notices. It has two drivers:
// "log", which writes each message to the log for a machine without a
// relay (and for make run), and "smtp", which hands it to a relay, over
// STARTTLS or TLS and with AUTH PLAIN as Config says. The portal and the
// notifier depend only on the Sender interface.
package mail
