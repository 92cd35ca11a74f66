package main

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// uploadEvent is the upload service's "file uploaded" event.
type uploadEvent struct {
	EventID       string `json:"event_id"`
	FileUUID      string `json:"file_uuid"`
	S3DataKey     string `json:"s3_data_key"`
	S3MetadataKey string `json:"s3_metadata_key"`
	BucketName    string `json:"bucket_name"`
}

// envelope is the part of the metadata object needed to decrypt: the wrapped data key.
type envelope struct {
	Kek              string `json:"kek"`
	OriginalFilename string `json:"original_filename"`
}

// open decrypts the producer's AES-256-GCM layout: [12-byte IV][ciphertext][16-byte tag].
func open(key, sealed []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < 12+16 {
		return nil, errors.New("sealed object too short")
	}
	return gcm.Open(nil, sealed[:12], sealed[12:], nil)
}

// uploadFlags: `workers` loops, each pulling one event at a time from the shared durable, GETting
// the metadata and the data object at once, unwrapping the data key, decrypting, writing the file
// and acking: the upload processor's work without dedupe, handler or result event.
func uploadFlags(flags *flag.FlagSet, n *int) func(*nats.Conn) (int, time.Duration, error) {
	stream := flags.String("stream", "FILE_UPLOADS", "stream")
	consumer := flags.String("consumer", "go_uploads", "durable pull consumer (must exist)")
	dir := flags.String("dir", "", "download directory")
	workers := flags.Int("workers", 3, "events processed at once")
	warm := flags.Int("warm", 0, "events processed before the clock starts (counted out)")
	s3 := s3Client{}
	flags.StringVar(&s3.endpoint, "endpoint", "", "S3 endpoint (path style)")
	flags.StringVar(&s3.region, "region", "us-east-1", "signing region")
	flags.StringVar(&s3.access, "access", "", "access key id")
	flags.StringVar(&s3.secret, "secret", "", "secret access key")
	master := flags.String("master", "", "master key, base64")
	return func(nc *nats.Conn) (int, time.Duration, error) {
		masterKey, err := base64.StdEncoding.DecodeString(*master)
		if err != nil {
			return 0, 0, err
		}
		s3.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * *workers}}
		js, err := nc.JetStream()
		if err != nil {
			return 0, 0, err
		}
		var processed int64
		var took time.Duration
		var firstErr error
		var mu sync.Mutex
		start := time.Now()
		if *warm >= *n {
			return 0, 0, errors.New("-warm must be below -n")
		}
		var wg sync.WaitGroup
		for w := 0; w < *workers; w++ {
			sub, err := js.PullSubscribe("", *consumer, nats.Bind(*stream, *consumer))
			if err != nil {
				return 0, 0, err
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for atomic.LoadInt64(&processed) < int64(*n) {
					msgs, err := sub.Fetch(1, nats.MaxWait(time.Second))
					if errors.Is(err, nats.ErrTimeout) {
						continue
					}
					if err == nil {
						err = handle(&s3, masterKey, *dir, msgs[0])
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					switch atomic.AddInt64(&processed, 1) {
					case int64(*warm):
						mu.Lock()
						start = time.Now()
						mu.Unlock()
					case int64(*n):
						mu.Lock()
						took = time.Since(start)
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		if firstErr != nil {
			return int(processed), 0, firstErr
		}
		return int(processed) - *warm, took, nil
	}
}

// handle processes one upload event: both GETs at once, decrypt, write, ack.
func handle(s3 *s3Client, masterKey []byte, dir string, m *nats.Msg) error {
	var e uploadEvent
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return err
	}
	var meta, data []byte
	var metaErr, dataErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); meta, metaErr = s3.get(e.BucketName, e.S3MetadataKey) }()
	data, dataErr = s3.get(e.BucketName, e.S3DataKey)
	wg.Wait()
	if metaErr != nil {
		return metaErr
	}
	if dataErr != nil {
		return dataErr
	}
	var env envelope
	if err := json.Unmarshal(meta, &env); err != nil {
		return err
	}
	wrapped, err := base64.StdEncoding.DecodeString(env.Kek)
	if err != nil {
		return err
	}
	dek, err := open(masterKey, wrapped)
	if err != nil {
		return fmt.Errorf("unwrap data key: %w", err)
	}
	plain, err := open(dek, data)
	if err != nil {
		return fmt.Errorf("decrypt: %w", err)
	}
	target := filepath.Join(dir, e.FileUUID)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	name := env.OriginalFilename
	if name == "" || strings.ContainsAny(name, `/\`) {
		name = "data"
	}
	if err := os.WriteFile(filepath.Join(target, name), plain, 0o644); err != nil {
		return err
	}
	return m.Ack()
}

// get GETs one object, signed with SigV4.
func (c *s3Client) get(bucket, key string) ([]byte, error) {
	req, err := c.signedGet(bucket, key, time.Now())
	if err != nil {
		return nil, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s/%s: %s", bucket, key, res.Status)
	}
	return body, nil
}
