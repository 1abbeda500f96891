"""gRPC stubs generated from `proto/conduit/v1` (`make proto`).

Apart from `shared.contracts`, so that importing messages does not import grpc. Example:

    >>> stub = GatewayStub(grpc.aio.insecure_channel("127.0.0.1:50051"))  # doctest: +SKIP
    >>> response = await stub.Ask(AskRequest(text="Where is ORD-5001?"))  # doctest: +SKIP
"""

from shared.contracts._generated.conduit.v1.gateway_pb2_grpc import (
    GatewayServicer,
    GatewayStub,
    add_GatewayServicer_to_server,
)

__all__ = ["GatewayServicer", "GatewayStub", "add_GatewayServicer_to_server"]
