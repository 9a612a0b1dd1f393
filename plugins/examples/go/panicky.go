package main

import evhost "github.com/evhost/evhost/plugins/sdk-go"

// panicky is a TEST FIXTURE, not an example to follow: its OnEvents always panics, so the
// host's tests can check that a panicking Go plugin fails its batch with
// EVH_ERR_INTERNAL and the message "panic: panicky: deliberate panic in OnEvents", and
// that the host keeps running.
type panicky struct{}

func init() {
	evhost.RegisterConsumer(evhost.PluginInfo{
		Name:        "panicky",
		Version:     "0.1.0",
		Description: "test fixture: panics in every OnEvents call",
	}, func(*evhost.Context, []byte) (evhost.Consumer, error) { return panicky{}, nil })
}

func (panicky) OnEvents(evhost.Batch) evhost.Result {
	panic("panicky: deliberate panic in OnEvents")
}

func (panicky) Stop() {}
