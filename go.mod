module github.com/sophia-pbx/sophia

go 1.26.8

require (
	github.com/alicebob/miniredis/v2 v2.40.0
	github.com/nyaruka/phonenumbers v1.8.1
	github.com/percipia/eslgo v1.5.0
	github.com/redis/go-redis/v9 v9.23.0
	golang.org/x/crypto v0.59.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/yuin/gopher-lua v1.1.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)
