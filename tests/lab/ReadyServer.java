// Readiness listener of the lab's Java MP (node mp-java-proc): a real JVM standing in for the
// Message Processor, so that /proc/<pid>/exe of the process whose command line names
// edge-message-processor is the JDK's bin/java, like on a real Apigee node.
//
// Started by apigee_service.py through java's source launcher (no build step):
//   java -Dcomponent=edge-message-processor ... ReadyServer.java <port> <never-ready knob file>
// GET /v1/servers/self/up answers "true" (or "false" while the never-ready knob file exists) on
// 127.0.0.1:<port>; everything else is 404. SIGTERM ends the JVM (run with -Xrs: no VM exit sequence).

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

public final class ReadyServer {
    private static final String UP_PATH = "/v1/servers/self/up";

    private ReadyServer() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: ReadyServer.java <port> <never-ready knob file>");
            System.exit(2);
        }
        int port = Integer.parseInt(args[0]);
        Path neverReady = Path.of(args[1]);
        InetSocketAddress address = new InetSocketAddress(InetAddress.getByName("127.0.0.1"), port);
        HttpServer server = HttpServer.create(address, 16);
        server.createContext("/", exchange -> answer(exchange, neverReady));
        server.start(); // default executor: one non-daemon dispatcher thread keeps the JVM alive
        System.out.println("edge-message-processor readiness listener on 127.0.0.1:" + port);
    }

    private static void answer(HttpExchange exchange, Path neverReady) throws IOException {
        String path = exchange.getRequestURI().getPath();
        boolean up = "GET".equals(exchange.getRequestMethod()) && stripSlash(path).equals(UP_PATH);
        int status = up ? 200 : 404;
        String body = up ? (Files.exists(neverReady) ? "false" : "true") : "not found";
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.getResponseHeaders().set("Connection", "close");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static String stripSlash(String path) {
        String result = path;
        while (result.endsWith("/")) {
            result = result.substring(0, result.length() - 1);
        }
        return result;
    }
}
