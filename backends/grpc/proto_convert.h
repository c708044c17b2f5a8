#pragma once
// Conversions between the harness's value types and the v4eval.proto messages, shared by the
// `grpc:` client and the gRPC side of `v4eval serve`. Lossless both ways.

#include "backends/backend.h"
#include "backends/grpc/v4eval.pb.h"

namespace v4eval::grpc_wire {

v1::Mode to_proto(Mode mode);
Mode from_proto(v1::Mode mode);

void to_proto(const GenerationRequest& request, v1::GenerateRequest* out);
GenerationRequest from_proto(const v1::GenerateRequest& request);

void to_proto(const Generation& generation, v1::Generation* out);
Generation from_proto(const v1::Generation& generation);

void to_proto(const BackendInfo& info, v1::InfoResponse* out);
BackendInfo from_proto(const v1::InfoResponse& info);

}  // namespace v4eval::grpc_wire
