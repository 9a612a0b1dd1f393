module github.com/evhost/evhost/plugins/sdk-go

go 1.21
