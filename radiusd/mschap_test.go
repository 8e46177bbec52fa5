package radiusd

import (
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func h16(t *testing.T, s string) (out [16]byte) {
	t.Helper()
	if n := copy(out[:], unhex(t, s)); n != 16 {
		t.Fatalf("%q is %d bytes, want 16", s, n)
	}
	return out
}

func h24(t *testing.T, s string) (out [24]byte) {
	t.Helper()
	if n := copy(out[:], unhex(t, s)); n != 24 {
		t.Fatalf("%q is %d bytes, want 24", s, n)
	}
	return out
}

// TestMSCHAPv2Vectors checks every step against the worked example of
// RFC 2759 §9.2 and the MPPE keys of RFC 3079 §3.5.3 (same user, password
// and challenges).
func TestMSCHAPv2Vectors(t *testing.T) {
	const (
		userName = "User"
		password = "clientPass"
	)
	authChallenge := h16(t, "5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28")
	peerChallenge := h16(t, "21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E")
	wantChallenge := unhex(t, "D0 2E 43 86 BC E9 12 26")
	wantHash := h16(t, "44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE")
	wantNTResponse := h24(t, "82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF")
	wantHashHash := h16(t, "41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F")
	const wantAuthResponse = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
	wantMaster := h16(t, "FD EC E3 71 7A 8C 83 8C B3 88 E5 27 AE 3C DD 31")
	wantSend := h16(t, "8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB")

	ntHash := ntPasswordHash(password)
	if ntHash != wantHash {
		t.Errorf("ntPasswordHash = %X, want %X", ntHash, wantHash)
	}
	if got := hashNtPasswordHash(ntHash); got != wantHashHash {
		t.Errorf("hashNtPasswordHash = %X, want %X", got, wantHashHash)
	}
	if got := challengeHash(peerChallenge, authChallenge, userName); string(got[:]) != string(wantChallenge) {
		t.Errorf("challengeHash = %X, want %X", got, wantChallenge)
	}
	ntResponse := generateNTResponse(authChallenge, peerChallenge, userName, ntHash)
	if ntResponse != wantNTResponse {
		t.Errorf("generateNTResponse = %X, want %X", ntResponse, wantNTResponse)
	}
	if got := generateAuthenticatorResponse(ntHash, ntResponse, peerChallenge, authChallenge, userName); got != wantAuthResponse {
		t.Errorf("generateAuthenticatorResponse = %s, want %s", got, wantAuthResponse)
	}
	master := mppeMasterKey(wantHashHash, wantNTResponse)
	if master != wantMaster {
		t.Errorf("mppeMasterKey = %X, want %X", master, wantMaster)
	}
	send, recv := mppeKeys(ntHash, ntResponse)
	if send != wantSend {
		t.Errorf("MPPE send key = %X, want %X", send, wantSend)
	}
	// RFC 3079 gives no receive-key vector; the client's send key is the
	// server's receive key, so check it differs and is the Magic2 key.
	if recv == send || recv != asymmetricStartKey(master, false) {
		t.Errorf("MPPE receive key = %X (send %X)", recv, send)
	}
}

func TestNTPasswordHashUnicode(t *testing.T) {
	tests := []struct {
		name, password, want string
	}{
		// Known NT hashes (as printed by Samba's and impacket's tools).
		{"empty", "", "31D6CFE0D16AE931B73C59D7E0C089C0"},
		{"ascii", "password", "8846F7EAEE8FB117AD06BDD830B7586C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ntPasswordHash(tt.password)
			if hex.EncodeToString(got[:]) != strings.ToLower(tt.want) {
				t.Errorf("ntPasswordHash(%q) = %X, want %s", tt.password, got, tt.want)
			}
		})
	}
	t.Run("outside the BMP uses a surrogate pair", func(t *testing.T) {
		// U+1F600 is D83D DE00 in UTF-16: MD4 over 3D D8 00 DE.
		if got, want := ntPasswordHash("\U0001F600"), md4Sum([]byte{0x3d, 0xd8, 0x00, 0xde}); got != want {
			t.Errorf("got %X, want %X", got, want)
		}
	})
}
