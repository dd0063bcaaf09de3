package podman

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/containers/podman/v4/pkg/errorhandling"
)

// ErrNotFound is what a Runtime's error wraps when the object does not exist (see IsNotFound).
var ErrNotFound = errors.New("no such object")

// IsNotFound tells whether err means that the object does not exist in Podman.
func IsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var em *errorhandling.ErrorModel
	if errors.As(err, &em) {
		return em.ResponseCode == http.StatusNotFound
	}
	return false
}

// IsUnreachable tells whether err means that the Podman service could not be reached (no socket, connection
// refused or dropped, no answer in time): an error of the transport, not an answer of Podman's. Such a failure
// says nothing about the object the call was about and is worth retrying once Podman answers again.
func IsUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var ue *url.Error
	var op *net.OpError
	return errors.As(err, &ue) || errors.As(err, &op) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
