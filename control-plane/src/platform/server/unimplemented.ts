import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";

/**
 * An implementation whose every method answers UNIMPLEMENTED with a message naming the method,
 * for services whose contracts exist but whose server side is not wired into this build.
 */
export function unimplementedService<S extends DescService>(service: S): ServiceImpl<S> {
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    const error = () =>
      new ConnectError(
        `${service.typeName}/${method.name} is not available on this control plane yet`,
        Code.Unimplemented,
      );
    impl[method.localName] =
      method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming"
        ? // biome-ignore lint/correctness/useYield: the stream fails before its first message.
          async function* () {
            throw error();
          }
        : async () => {
            throw error();
          };
  }
  return impl as ServiceImpl<S>;
}
