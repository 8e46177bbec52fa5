package policy

import "testing"

// BenchmarkVerifyArgon2idDefault is the floor under every bind: one
// verification at the default parameters (m=19456 KiB, t=2, p=1).
func BenchmarkVerifyArgon2idDefault(b *testing.B) {
	p := HashParams{Scheme: SchemeArgon2id, Argon2Memory: 19456, Argon2Time: 2, Argon2Threads: 1}
	stored, err := HashPassword([]byte("Bench-Password-2026"), p)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, err := VerifyPassword(stored, []byte("Bench-Password-2026")); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
