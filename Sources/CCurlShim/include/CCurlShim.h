#ifndef CCURLSHIM_H
#define CCURLSHIM_H
#include <curl/curl.h>

/// Typed wrappers for curl_easy_setopt / curl_easy_getinfo, which are variadic
/// and therefore not callable from Swift.
CURLcode wsscale_curl_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode wsscale_curl_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode wsscale_curl_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode wsscale_curl_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode wsscale_curl_setopt_write_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode wsscale_curl_setopt_header_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode wsscale_curl_setopt_read_function(CURL *handle, size_t (*fn)(char *, size_t, size_t, void *));
CURLcode wsscale_curl_getinfo_long(CURL *handle, CURLINFO info, long *value);
/// Names the calling thread (at most 15 bytes show in /proc/<pid>/task/<tid>/comm); the
/// transfer loop's thread calls it, since Foundation's Thread.name does not reliably do so on Linux.
void wsscale_set_current_thread_name(const char *name);
#endif
