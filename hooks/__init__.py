"""aihooks: Kubernetes APIs for deploying and operating AI models, as Metacontroller hooks."""
