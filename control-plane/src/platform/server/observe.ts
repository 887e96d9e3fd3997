import type { Interceptor, StreamResponse, UnaryResponse } from "@connectrpc/connect";

type Request = Parameters<ReturnType<Interceptor>>[0];

/**
 * Runs `next(req)` and calls `done` once with the error (or undefined) when the call has really
 * finished. For streaming methods the handler runs while the response stream is consumed, so
 * completion is only known when that iteration ends; this wraps it.
 */
export async function observe(
  req: Request,
  next: (req: Request) => Promise<UnaryResponse | StreamResponse>,
  done: (error: unknown) => Promise<void> | void,
): Promise<UnaryResponse | StreamResponse> {
  let response: UnaryResponse | StreamResponse;
  try {
    response = await next(req);
  } catch (error) {
    await done(error);
    throw error;
  }
  if (!response.stream) {
    await done(undefined);
    return response;
  }
  const inner = response.message;
  async function* wrapped() {
    try {
      yield* inner;
    } catch (error) {
      await done(error);
      throw error;
    }
    await done(undefined);
  }
  return { ...response, message: wrapped() };
}

/**
 * Like {@link observe} but lets `map` replace the error that is thrown (error normalisation).
 */
export async function mapErrors(
  req: Request,
  next: (req: Request) => Promise<UnaryResponse | StreamResponse>,
  map: (error: unknown) => unknown,
): Promise<UnaryResponse | StreamResponse> {
  let response: UnaryResponse | StreamResponse;
  try {
    response = await next(req);
  } catch (error) {
    throw map(error);
  }
  if (!response.stream) return response;
  const inner = response.message;
  async function* wrapped() {
    try {
      yield* inner;
    } catch (error) {
      throw map(error);
    }
  }
  return { ...response, message: wrapped() };
}
