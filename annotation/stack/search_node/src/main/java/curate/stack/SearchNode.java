package curate.stack;

import static org.codelibs.opensearch.runner.OpenSearchRunner.newConfigs;

import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * One OpenSearch node for the local Argilla stack, bound to loopback, with the k-NN plugin
 * loaded from the classpath (Argilla maps vectors as knn_vector with the lucene engine).
 *
 * Usage: SearchNode HOME HTTP_PORT TRANSPORT_PORT
 * Runs until it is sent SIGTERM; the shutdown hook closes the node so the data stays consistent.
 */
public final class SearchNode {

    static final String KNN_PLUGIN = "org.opensearch.knn.plugin.KNNPlugin";

    static final String PLUGINS = KNN_PLUGIN + "," + ArgillaKnnCompat.class.getName();

    private SearchNode() {
    }

    public static void main(final String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: SearchNode HOME HTTP_PORT TRANSPORT_PORT");
            System.exit(2);
        }
        final String home = args[0];
        final String httpPort = args[1];
        final String transportPort = args[2];

        final OpenSearchRunner runner = new OpenSearchRunner();
        // The runner probes for a free port up to 9299 unless told not to; ours is fixed (and
        // checked by the Python side), and may be above 9299.
        runner.setMaxHttpPort(-1);
        runner.onBuild((index, settings) -> {
            settings.put("http.port", httpPort);
            settings.put("transport.port", transportPort);
            settings.put("network.host", "127.0.0.1");
            settings.put("discovery.type", "single-node");
            settings.putList("node.roles", "cluster_manager", "data", "ingest");
            // A laptop or CI disk is often fuller than OpenSearch's defaults allow; a dev stack
            // should not turn read-only because of that.
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
            settings.put("action.auto_create_index", "true");
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (final Exception e) {
                System.err.println("closing the node failed: " + e);
            }
        }, "search-node-shutdown"));

        try {
            runner.build(newConfigs()
                    .basePath(home)
                    .numOfNode(1)
                    .baseHttpPort(Integer.parseInt(httpPort) - 1)
                    .clusterName("curate-argilla")
                    .pluginTypes(PLUGINS)
                    .printOnFailure());
        } catch (final RuntimeException e) {
            e.printStackTrace();
            System.exit(1);
        }
        runner.ensureYellow();
        System.out.println("search node ready on 127.0.0.1:" + httpPort);

        while (!runner.isClosed()) {
            Thread.sleep(2000);
        }
    }
}
