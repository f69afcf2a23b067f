package curate.stack;

import java.util.List;
import java.util.regex.Pattern;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.opensearch.action.ActionRequest;
import org.opensearch.action.admin.indices.create.CreateIndexRequest;
import org.opensearch.action.support.ActionFilter;
import org.opensearch.action.support.ActionFilterChain;
import org.opensearch.common.settings.Settings;
import org.opensearch.core.action.ActionListener;
import org.opensearch.core.action.ActionResponse;
import org.opensearch.plugins.ActionPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.tasks.Task;

/**
 * Lets argilla-server 2.8 create vector fields on k-NN 2.17 and later.
 *
 * Argilla creates each dataset's records index ("rg.DATASET_UUID") with {@code index.knn: false} and maps
 * vectors as {@code knn_vector} with the lucene engine and an HNSW method. Up to k-NN 2.16 the
 * lucene engine ignored {@code index.knn} and built Lucene HNSW graphs; since 2.17 k-NN treats
 * {@code index.knn: false} as "flat" and rejects any method ("Cannot set modelId or method
 * parameters when index.knn setting is false"). Only k-NN 2.19.1.0 and 3.5.0.0 are on Maven
 * Central, so the older plugin is not available here.
 *
 * This filter sets {@code index.knn: true} on create-index requests for Argilla's records
 * indices that ask for {@code false}, which gives exactly what Argilla's mapping asks for on
 * k-NN 2.16: Lucene HNSW vectors, searched with the real k-NN query. Nothing else is touched.
 * Disabled with the system property {@code curate.knnCompat=false}.
 */
public class ArgillaKnnCompat extends Plugin implements ActionPlugin {

    /** argilla_server.search_engine.commons.es_index_name_for_dataset: f"rg.{dataset.id}" */
    static final Pattern ARGILLA_RECORDS_INDEX = Pattern.compile(
            "rg\\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    private static final Logger LOG = LogManager.getLogger(ArgillaKnnCompat.class);

    @Override
    public List<ActionFilter> getActionFilters() {
        if (!Boolean.parseBoolean(System.getProperty("curate.knnCompat", "true"))) {
            return List.of();
        }
        return List.of(new KnnFlagFilter());
    }

    static final class KnnFlagFilter implements ActionFilter {

        @Override
        public int order() {
            return Integer.MIN_VALUE;
        }

        @Override
        public <Request extends ActionRequest, Response extends ActionResponse> void apply(
                final Task task, final String action, final Request request,
                final ActionListener<Response> listener,
                final ActionFilterChain<Request, Response> chain) {
            if (request instanceof CreateIndexRequest) {
                rewrite((CreateIndexRequest) request);
            }
            chain.proceed(task, action, request, listener);
        }

        private static void rewrite(final CreateIndexRequest request) {
            final String index = request.index();
            if (index == null || !ARGILLA_RECORDS_INDEX.matcher(index).matches()) {
                return;
            }
            final Settings settings = request.settings();
            final String key = settings.hasValue("index.knn") ? "index.knn"
                    : settings.hasValue("knn") ? "knn" : null;
            if (key == null || settings.getAsBoolean(key, true)) {
                return;
            }
            final Settings.Builder fixed = Settings.builder().put(settings);
            fixed.remove(key);
            request.settings(fixed.put("index.knn", true));
            LOG.info("[{}] index.knn false -> true (argilla-server 2.8 lucene vectors on k-NN >= 2.17)", index);
        }
    }
}
