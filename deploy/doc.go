// Package deploy holds what an administrator installs dird with: the
// systemd unit (dird.service) and the container image (Dockerfile). It
// has no code; its tests check both files for the hardening and
// properties README promises, and run systemd-analyze verify on the
// unit. It imports nothing of dird's and is imported by nothing.
package deploy
