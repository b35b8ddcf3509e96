package main

import (
	"context"
	"strings"
	"testing"
)

// Bad flags stop import-mongo before it connects anywhere.
func TestImportMongoFlags(t *testing.T) {
	t.Setenv("MONGO_URI", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--mongo-uri is required"},
		{[]string{"--mongo-uri", "mongodb://127.0.0.1:1", "--batch", "0"}, "--batch"},
		{[]string{"--mongo-uri", "mongodb://127.0.0.1:1", "--since", "yesterday"}, "--since"},
		{[]string{"--nope"}, "flag provided but not defined"},
	} {
		err := runImportMongo(context.Background(), c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}
