import type http from "node:http";
import type http2 from "node:http2";
import net from "node:net";

const http2Preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** "PRI " starts the HTTP/2 preface and no HTTP/1.1 request (no such method). */
const decidingBytes = 4;

/**
 * A plaintext listener that serves HTTP/2 with prior knowledge (gRPC from players, grpc-js,
 * buf curl) and HTTP/1.1 (asset downloads, gRPC-Web, the console) on the same port. Without TLS
 * there is no ALPN to tell them apart, so the first bytes decide: the HTTP/2 connection preface
 * starts with "PRI ", which no HTTP/1.1 request does. Asset URLs in desired states are relative
 * to the control-plane URL a player dials, so players fetch them over HTTP/1.1 on this port.
 */
export function createProtocolSniffer(h2: http2.Http2Server, h1: http.Server): net.Server {
  return net.createServer((socket) => {
    const decide = () => {
      if (socket.readableLength < decidingBytes && !socket.readableEnded) {
        socket.once("readable", decide);
        return;
      }
      const head = socket.read(Math.min(socket.readableLength, http2Preface.length)) as Buffer | null;
      if (!head) {
        socket.destroy();
        return;
      }
      socket.unshift(head);
      const isHttp2 = head.subarray(0, decidingBytes).equals(http2Preface.subarray(0, decidingBytes));
      (isHttp2 ? h2 : h1).emit("connection", socket);
    };
    socket.once("readable", decide);
    socket.on("error", () => socket.destroy());
  });
}
