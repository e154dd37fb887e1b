// The fixed vocabularies of the Reel generator: sectors (with the keywords that make a trend
// relevant to them), hook types, tones, goals, the calls to action each goal asks for, and the
// brand-safety terms no script may contain. Pure data, no I/O; served by GET /api/sectors and
// GET /api/hook-types so the UI and API clients use the same lists the validator checks against.

export interface Sector {
  id: string
  label: string
  /** Folded keywords (see fold() in text.ts); a trend whose entity contains one is a sector match. */
  keywords: readonly string[]
  /** What the brand's audience comes for, used in templates ("quick {topic}"). */
  topic: string
}

// Keywords include the synthetic firehose's curated hashtags (streams/sources/synthetic.ts) so the
// demo finds sector matches; real deployments extend them through GeneratorConfig.extraKeywords.
export const SECTORS: readonly Sector[] = [
  { id: 'food-beverage', label: 'Food & beverage', topic: 'food ideas', keywords: ['food', 'cooking', 'recipe', 'cafe', 'coffee', 'drink', 'snack', 'foodie', 'baking', 'jalapeno', 'ラーメン', 'ramen', 'cola', 'taco', 'brunch'] },
  { id: 'beauty', label: 'Beauty & personal care', topic: 'beauty tips', keywords: ['makeup', 'skincare', 'beauty', 'hair', 'nail', 'grwm', 'glow', 'creme', 'lipstick'] },
  { id: 'fashion', label: 'Fashion & apparel', topic: 'outfit ideas', keywords: ['fashion', 'ootd', 'outfit', 'style', 'shoe', 'sneaker', 'thrift', 'streetwear'] },
  { id: 'fitness', label: 'Fitness & sport', topic: 'training tips', keywords: ['gym', 'fitness', 'workout', 'running', 'yoga', 'sport', 'football', 'futbol', 'training', 'motivation'] },
  { id: 'gaming', label: 'Gaming', topic: 'gaming moments', keywords: ['gaming', 'minecraft', 'esport', 'gamer', 'stream', 'console', 'speedrun'] },
  { id: 'tech', label: 'Tech & apps', topic: 'tech tips', keywords: ['tech', 'gadget', 'phone', 'mobile', 'ai', 'coding', 'science', 'app', 'setup', 'lifehack'] },
  { id: 'travel', label: 'Travel & hospitality', topic: 'travel ideas', keywords: ['travel', 'beach', 'summer', 'hotel', 'flight', 'vacation', 'nature', 'trip', 'air'] },
  { id: 'finance', label: 'Finance & banking', topic: 'money tips', keywords: ['money', 'finance', 'budget', 'investing', 'bank', 'saving', 'sidehustle'] },
  { id: 'entertainment', label: 'Entertainment & music', topic: 'good vibes', keywords: ['comedy', 'funny', 'dance', 'music', 'cover', 'duet', 'storytime', 'anime', 'kpop', 'challenge', 'transition', 'asmr'] },
  { id: 'education', label: 'Education', topic: 'things worth learning', keywords: ['study', 'school', 'tutorial', 'history', 'science', 'booktok', 'learn', 'lifehack'] },
  { id: 'pets', label: 'Pets', topic: 'pet moments', keywords: ['pet', 'dog', 'cat', 'puppy', 'kitten'] },
  { id: 'automotive', label: 'Automotive', topic: 'car content', keywords: ['car', 'ev', 'drive', 'motor', 'roadtrip'] },
  { id: 'home-diy', label: 'Home & DIY', topic: 'home projects', keywords: ['diy', 'home', 'decor', 'cleaning', 'garden', 'lifehack', 'organizing'] },
  { id: 'family', label: 'Family & parenting', topic: 'family moments', keywords: ['family', 'baby', 'mom', 'parenting', 'couple', 'love', 'nino'] },
]
export const SECTOR_IDS = SECTORS.map((s) => s.id) as [string, ...string[]]

export interface HookType {
  id: string
  label: string
  description: string
  example: string
}

export const HOOK_TYPES: readonly HookType[] = [
  { id: 'question', label: 'Question', description: 'Opens with a question the viewer wants answered.', example: 'Why is everyone suddenly talking about #matcha?' },
  { id: 'pov', label: 'POV', description: 'Puts the viewer inside a relatable moment.', example: 'POV: you found the one #matcha trick that works.' },
  { id: 'bold-claim', label: 'Bold claim', description: 'A confident statement that begs to be checked.', example: 'This is the only #matcha video you need today.' },
  { id: 'stat', label: 'Number', description: 'Leads with a concrete figure from the live trend data.', example: '#matcha posts just grew 240% in an hour.' },
  { id: 'before-after', label: 'Before / after', description: 'Shows the end result first, then how to get there.', example: 'Before: boring mornings. After: this.' },
  { id: 'myth-bust', label: 'Myth bust', description: 'Corrects something the audience believes.', example: 'Stop doing #matcha like this.' },
  { id: 'challenge', label: 'Challenge', description: 'Invites the viewer to join a trend.', example: 'We tried the #matcha challenge so you do not have to.' },
  { id: 'list', label: 'List', description: 'Promises a short numbered list.', example: '3 ways to ride the #matcha wave.' },
]
export const HOOK_TYPE_IDS = HOOK_TYPES.map((h) => h.id) as [string, ...string[]]

export const TONES = ['playful', 'bold', 'warm', 'expert', 'deadpan', 'inspiring'] as const
export type Tone = (typeof TONES)[number]

export const GOALS = ['awareness', 'engagement', 'followers', 'traffic', 'sales', 'app-installs'] as const
export type Goal = (typeof GOALS)[number]

/**
 * Verbs a call to action must start with or contain (folded, whole words). The validator's
 * "call to action present" check means: a non-empty CTA line that asks the viewer to do something.
 */
export const CTA_VERBS: readonly string[] = [
  'follow', 'save', 'share', 'comment', 'tap', 'try', 'shop', 'visit', 'download', 'join', 'tag', 'grab',
  'order', 'book', 'sign', 'subscribe', 'click', 'get', 'check', 'watch', 'send', 'duet', 'stitch', 'install', 'drop', 'tell',
]

/**
 * Brand-safety terms no script may contain (folded; whole words in prose, substrings in hashtags),
 * on top of each brand's own banned words. Includes the crisis vocabulary of the firehose
 * (boycott, scam, …) so a brand never rides a boycott trend, violence, self-harm, drugs, adult
 * content, hate, and claims ad policies forbid (guaranteed results, miracle cures).
 */
export const UNSAFE_TERMS: readonly string[] = [
  'boycott', 'scam', 'fraud', 'lawsuit', 'refund', 'disgusting', 'ashamed', 'estafa', 'arnaque',
  'kill', 'murder', 'suicide', 'selfharm', 'self-harm', 'gun', 'shooting', 'bomb', 'terror', 'weapon',
  'cocaine', 'heroin', 'meth', 'overdose', 'drunk', 'porn', 'nsfw', 'nude', 'onlyfans', 'nazi', 'slur',
  'guaranteed', 'miracle', 'cure', 'get rich quick', 'risk-free', 'lose weight fast',
]

/** Calls to action per goal: the built-in generator's templates ({brand}, {topic}, {trend}). */
export const CTA_TEMPLATES: Record<Goal, readonly string[]> = {
  awareness: ['Save this and share it with someone who needs {topic}.', 'Share this with the friend who always finds {topic} first.'],
  engagement: ['Comment your take on {trend} below.', 'Tell us in the comments: would you try it?', 'Drop your version in the comments.'],
  followers: ['Follow {brand} for more {topic}.', 'Follow for part two tomorrow.'],
  traffic: ['Tap the link in bio to see the full guide.', 'Check the link in bio for the details.'],
  sales: ['Tap the link in bio to shop {brand}.', 'Grab yours from the link in bio.'],
  'app-installs': ['Download the {brand} app and try it today.', 'Get the {brand} app from the link in bio.'],
}
