/*
 * A Java client that calls a backend the way a message processor would (tests/integration/test_java_sni_lab.py).
 *
 * Usage, inside an MP node (java's single-file source launcher, like ReadyServer.java):
 *   java SniClient.java SYSTEM_PROPERTIES CA_PEM URL
 * It loads SYSTEM_PROPERTIES (the MP's generated /opt/apigee/edge-message-processor/conf/system.properties)
 * into the System properties before any JSSE class is loaded, on top of the MP's own start-up default
 * jsse.enableSNIExtension=false (what an Apigee MP runs with when system.properties does not say; fixer's
 * host var fixer_mp_sni_default models the same), then does an HTTPS GET of URL trusting only CA_PEM.
 * Exit 0 and "OK HTTP 200 ..." on success; exit 1 and "FAILED: <exception>" otherwise, e.g.
 * "javax.net.ssl.SSLHandshakeException: Received fatal alert: unrecognized_name".
 */

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Properties;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class SniClient {
    static final String SNI = "jsse.enableSNIExtension";

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: java SniClient.java SYSTEM_PROPERTIES CA_PEM URL");
            System.exit(2);
        }
        Properties effective = new Properties();
        effective.setProperty(SNI, "false");
        Properties generated = new Properties();
        try (Reader reader = Files.newBufferedReader(Path.of(args[0]))) {
            generated.load(reader);
        }
        effective.putAll(generated);
        for (String key : effective.stringPropertyNames()) {
            System.setProperty(key, effective.getProperty(key));
        }
        System.out.println(SNI + "=" + System.getProperty(SNI)
                + (generated.containsKey(SNI) ? " (from " + args[0] + ")" : " (MP default)"));

        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        try (InputStream in = Files.newInputStream(Path.of(args[1]))) {
            int i = 0;
            for (Certificate cert : factory.generateCertificates(in)) {
                trust.setCertificateEntry("ca" + i++, cert);
            }
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);

        HttpsURLConnection conn = (HttpsURLConnection) new URL(args[2]).openConnection();
        conn.setSSLSocketFactory(context.getSocketFactory());
        conn.setConnectTimeout(5000);
        conn.setReadTimeout(5000);
        try {
            int code = conn.getResponseCode();
            System.out.println("OK HTTP " + code + " " + conn.getCipherSuite());
            System.exit(code == 200 ? 0 : 1);
        } catch (IOException e) {
            System.out.println("FAILED: " + e);
            System.exit(1);
        } finally {
            conn.disconnect();
        }
    }
}
