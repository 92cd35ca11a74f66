package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

// serveNoop is the stand-in for an upload handler's HTTP service in the upload row: it answers
// every request with `{}` until its stdin closes. It runs outside the bench's process so that
// jetport's figure carries the cost of calling a handler, not of being one.
func serveNoop() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err.Error())
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	})
	go http.Serve(ln, handler)
	out, _ := json.Marshal(map[string]int{"port": ln.Addr().(*net.TCPAddr).Port})
	fmt.Println(string(out))
	io.Copy(io.Discard, os.Stdin)
}
