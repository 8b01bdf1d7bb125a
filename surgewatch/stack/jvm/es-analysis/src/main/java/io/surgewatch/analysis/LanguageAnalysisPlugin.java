// Registers the `english` and `russian` analyzer types (Lucene's EnglishAnalyzer / RussianAnalyzer, with the
// `stopwords` and `stem_exclusion` settings an index may give) for the jvm engine's Elasticsearch node.
package io.surgewatch.analysis;

import java.util.Map;
import java.util.function.BiFunction;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.ru.RussianAnalyzer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

public final class LanguageAnalysisPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of(
            "english", provider(EnglishAnalyzer.getDefaultStopSet(), EnglishAnalyzer::new),
            "russian", provider(RussianAnalyzer.getDefaultStopSet(), RussianAnalyzer::new));
    }

    private static AnalysisProvider<AnalyzerProvider<? extends Analyzer>> provider(
            CharArraySet defaultStops, BiFunction<CharArraySet, CharArraySet, Analyzer> build) {
        return (indexSettings, env, name, settings) -> new LanguageProvider(name, settings, env, defaultStops, build);
    }

    /** One configured analyzer: stop words and stem exclusions parsed the way Elasticsearch parses them. */
    private static final class LanguageProvider extends AbstractIndexAnalyzerProvider<Analyzer> {
        private final Analyzer analyzer;

        LanguageProvider(String name, Settings settings, Environment env, CharArraySet defaultStops,
                         BiFunction<CharArraySet, CharArraySet, Analyzer> build) {
            super(name, settings);
            CharArraySet stops = Analysis.parseStopWords(env, settings, defaultStops);
            CharArraySet exclusions = Analysis.parseStemExclusion(settings, CharArraySet.EMPTY_SET);
            this.analyzer = build.apply(stops, exclusions);
        }

        @Override
        public Analyzer get() {
            return analyzer;
        }
    }
}
