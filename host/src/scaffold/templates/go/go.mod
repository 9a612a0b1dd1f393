module example.com/{{name}}

go 1.21

require github.com/evhost/evhost/plugins/sdk-go v0.0.0

// The SDK of the evhost checkout that wrote this project. Without a checkout, drop this
// line and require a published version of github.com/evhost/evhost/plugins/sdk-go.
replace github.com/evhost/evhost/plugins/sdk-go => {{sdk_go}}
