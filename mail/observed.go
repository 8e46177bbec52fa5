package mail

import "context"

// Observed wraps s so that fn is told the result of every Send (nil:
// delivered to the driver), for the mail metrics. fn must be quick.
func Observed(s Sender, fn func(error)) Sender {
	return observed{s: s, fn: fn}
}

type observed struct {
	s  Sender
	fn func(error)
}

func (o observed) Send(ctx context.Context, m Message) error {
	err := o.s.Send(ctx, m)
	o.fn(err)
	return err
}
