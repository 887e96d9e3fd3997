/**
 * The standard gRPC side services that stock tools expect (`buf curl`, grpcurl, grpc-js, Python
 * grpcio, load-balancer health probes). connect-es ships neither, so we implement them on the
 * generated descriptors.
 */

import { file_grpc_health_v1_health, Health } from "@avtech/proto/gen/grpc/health/v1/health_pb.js";
import * as v1 from "@avtech/proto/gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "@avtech/proto/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { type DescFile, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { createHealthService, type HealthStatusSource } from "./health.ts";
import { createReflectionIndex } from "./reflection.ts";

export type { HealthState, HealthStatus, HealthStatusSource } from "./health.ts";
export { createHealthState } from "./health.ts";

/** What {@link registerGrpcStandardServices} needs. */
export interface GrpcStandardServicesOptions {
  /** The generated files whose services this server routes; reflection describes them and their imports. */
  files: readonly DescFile[];
  /** Statuses for grpc.health.v1.Health. */
  health: HealthStatusSource;
}

/**
 * Registers grpc.health.v1.Health, grpc.reflection.v1.ServerReflection and its older name
 * grpc.reflection.v1alpha.ServerReflection on `router`. Reflection lists the services declared in
 * `options.files` plus these three.
 */
export function registerGrpcStandardServices(router: ConnectRouter, options: GrpcStandardServicesOptions): void {
  const ownFiles = [
    file_grpc_health_v1_health,
    v1.file_grpc_reflection_v1_reflection,
    v1alpha.file_grpc_reflection_v1alpha_reflection,
  ];
  const files = [...options.files, ...ownFiles];
  const services = [...new Set(files.flatMap((file) => file.services.map((service) => service.typeName)))];
  const index = createReflectionIndex(files, services);

  router.service(Health, createHealthService(options.health));
  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) yield index.answer(request);
    },
  });
  // v1alpha has exactly v1's wire shape (only the package differs), so a binary round trip turns
  // one message type into the other and one implementation answers both.
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        const asV1 = fromBinary(
          v1.ServerReflectionRequestSchema,
          toBinary(v1alpha.ServerReflectionRequestSchema, request),
        );
        const answer = toBinary(v1.ServerReflectionResponseSchema, index.answer(asV1));
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, answer);
      }
    },
  });
}
