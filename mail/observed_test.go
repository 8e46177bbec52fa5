package mail

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

// failing is a Sender whose delivery fails: the relay is outside our
// control, so a fake stands in for it.
type failing struct{}

func (failing) Send(context.Context, Message) error { return errors.New("relay refused") }

func TestObservedReportsEachResult(t *testing.T) {
	ok, err := New(Config{Driver: "log", From: "dird@example.com", SMTPHost: "127.0.0.1", SMTPPort: 25}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		sender  Sender
		wantErr bool
	}{
		{"a delivered message is reported as nil", ok, false},
		{"a failed delivery is reported with its error", failing{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []error
			s := Observed(tc.sender, func(err error) { got = append(got, err) })
			sendErr := s.Send(context.Background(), Message{To: "alice@example.com", Subject: "hi", Body: "hello"})
			if len(got) != 1 {
				t.Fatalf("observer called %d times, want 1", len(got))
			}
			if (got[0] != nil) != tc.wantErr || got[0] != sendErr {
				t.Errorf("observer got %v, Send returned %v, want error=%v", got[0], sendErr, tc.wantErr)
			}
		})
	}
}
