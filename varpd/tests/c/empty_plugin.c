/* A shared object that registers nothing: reported and skipped. */
int empty_plugin_marker = 1;
