// Package sssdtest logs in to a Linux host the way a person at a login
// prompt does, with dird as the directory: Debian's SSSD (sssd-ldap,
// libnss-sss, libpam-sss) and nss-pam-ldapd (nslcd, libnss-ldapd,
// libpam-ldapd), driven by getent and pamtester.
//
// Each test starts a real `dird serve` (internal/dirdproc) on 127.0.0.1
// with StartTLS and a CA made by the test, seeds it with the OpenLDAP
// tools, and runs `sssd -i -c <private sssd.conf>` (or nslcd) inside a
// private mount namespace (`unshare -m`): /var/lib/sss, /var/log/sssd,
// /run, /etc/sssd and /etc/pam.d are bind mounts of the test's own
// directories there, so the host's SSSD state, PAM services and
// nsswitch.conf are never touched. getent and pamtester run in the same
// namespace (nsenter); the PAM service file dird-sssd-test exists only
// there. TestMain checks that /etc/nsswitch.conf and /etc/pam.d/common-*
// are byte-identical after the run.
//
// The tests need root (mount namespaces) and hold an exclusive lock on
// /run/lock/dird-sssdtest.lock, since only one such run may go at a time
// on a host. A missing tool fails the test ("run make test-deps"); it is
// never skipped.
//
// Every search SSSD and nslcd send is read back from dird's debug log
// ("ldap search" lines with the plan) and a search answered by a scan of
// the tree fails the test. The package has only tests and imports
// internal/dirdproc alone of dird's packages.
package sssdtest
