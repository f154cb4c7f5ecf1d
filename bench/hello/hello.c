/*
 * Bare Kore 4.1 hello-world module: the ceiling the benchmark compares
 * korebase's GET /health against. It does only what every korebase
 * response must do at the least (a JSON body and a content type), so the
 * difference to /health is the price of the router, the request id, the
 * access log and the database round trip.
 */

#include <kore/kore.h>
#include <kore/http.h>

int	bench_hello(struct http_request *);

static const char	bench_hello_body[] = "{\"status\":\"ok\"}";

int
bench_hello(struct http_request *req)
{
	http_response_header(req, "content-type", "application/json");
	http_response(req, HTTP_STATUS_OK, bench_hello_body,
	    sizeof(bench_hello_body) - 1);

	return (KORE_RESULT_OK);
}
