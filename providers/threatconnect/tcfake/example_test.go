package tcfake_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/goshawk/goshawk/providers/threatconnect/tcfake"
)

// Example lists the owners with a request signed the ThreatConnect way.
func Example() {
	srv := tcfake.New(tcfake.Options{})
	defer srv.Close()

	const target = "/v3/security/owners"
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(tcfake.DefaultSecretKey))
	mac.Write([]byte(target + ":GET:" + ts))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+target, nil)
	req.Header.Set("Timestamp", ts)
	req.Header.Set("Authorization", "TC "+tcfake.DefaultAccessID+":"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))

	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var owners struct {
		Data []struct {
			ID   json.Number `json:"id"`
			Name string      `json:"name"`
		} `json:"data"`
		Count  int    `json:"count"`
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&owners); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.StatusCode, owners.Status, owners.Count)
	fmt.Println(owners.Data[0].ID, owners.Data[0].Name)
	// Output:
	// 200 Success 2
	// 11111797252348111 TestUser
}
