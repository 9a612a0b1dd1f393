package evhost

import "github.com/evhost/evhost/plugins/sdk-go/internal/abi"

// Result is a consumer's answer to one batch. The zero Result is OK.
type Result struct {
	status  int32
	handled int
	err     error
}

// OK reports that every event of the batch was handled.
func OK() Result { return Result{} }

// Retry reports a transient failure: the first handled events were handled, and the host
// delivers the rest again after a backoff, up to the consumer's retry limit. err, if not
// nil, is the reason the host logs.
func Retry(handled int, err error) Result {
	return Result{status: abi.Retry, handled: handled, err: err}
}

// Fail reports a permanent failure: the first handled events were handled, and the rest
// goes to the consumer's dead-letter target. err, if not nil, is the reason the host logs.
func Fail(handled int, err error) Result {
	return Result{status: abi.Fail, handled: handled, err: err}
}
