module github.com/evhost/evhost/plugins/examples/go

go 1.21

require github.com/evhost/evhost/plugins/sdk-go v0.0.0

replace github.com/evhost/evhost/plugins/sdk-go => ../../sdk-go
