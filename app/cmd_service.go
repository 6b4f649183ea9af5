package app

import (
	"context"
	"errors"
)

// runService is implemented by the packaging work (issue 8).
func runService(ctx context.Context, e env, args []string) error {
	return errors.New("service control is not built yet")
}
