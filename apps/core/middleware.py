from . import request_context


class RequestContextMiddleware:
    """Gives every request an id (echoed as X-Request-ID) and records where it came from."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        info = request_context.RequestInfo(
            request_id=request_context.new_request_id(request.headers.get("X-Request-ID")),
            ip=request_context.client_ip(request.META),
            user_agent=request.headers.get("User-Agent", "")[:400],
        )
        request.request_id = info.request_id
        token = request_context.activate(info)
        try:
            response = self.get_response(request)
        finally:
            request_context.reset(token)
        response["X-Request-ID"] = info.request_id
        return response
