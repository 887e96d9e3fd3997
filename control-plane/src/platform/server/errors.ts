import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "pino";
import { mapErrors } from "./observe.ts";

/**
 * The one place where unexpected errors become wire errors: anything that is not a ConnectError
 * is logged with its stack and answered as INTERNAL without internals in the message. Expected
 * client errors are logged at debug level only.
 */
export function createErrorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = `${req.service.typeName}/${req.method.name}`;
    return mapErrors(req, next, (error) => {
      if (error instanceof ConnectError) {
        if (error.code === Code.Internal || error.code === Code.Unknown) {
          logger.error({ err: error.cause ?? error, procedure }, "rpc failed");
        } else {
          logger.debug({ procedure, code: Code[error.code], message: error.rawMessage }, "rpc refused");
        }
        return error;
      }
      logger.error({ err: error, procedure }, "rpc failed unexpectedly");
      return new ConnectError(
        "internal error; the server logged the details",
        Code.Internal,
        undefined,
        undefined,
        error,
      );
    });
  };
}
