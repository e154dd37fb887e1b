// Embeddings for posts, trends and search queries (embed.ts), the co-occurrence model they use
// (model.ts, trained by train-cooc.ts) and how their quality is measured (quality.ts).
export { EMBEDDING_DIM, TextEmbedder, cosine, defaultEmbedder, embedPost, embedText, embedderOptionsSchema, type EmbedderOptions, type EmbeddedVector } from './embed.ts'
export { postTokens, queryTokens, type PostText, type TokenList } from './features.ts'
export { loadCoocModel, DEFAULT_MODEL_PATH, type CoocModel, type CoocModelFile } from './model.ts'
